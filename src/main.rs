use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = juru::cli::Cli::parse();
    juru::cli::init_logging(cli.log_format);
    juru::cli::main(cli)
}
