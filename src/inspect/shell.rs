//! `juru shell BOT`: a bot's browser (logged in by its `login()`), and Rhai
//! statements read from standard input, one at a time, evaluated in the bot's
//! script host; each value is printed, each error reported, and the shell goes on.
//! At the end of the input the browser is closed and the driver stopped.
//!
//! The host lives on a thread of its own (Rhai is synchronous; reading standard
//! input blocks), reaching the browser through the runtime handle.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use tokio::runtime::Handle;

use crate::bot::Bot;
use crate::cli::outln;
use crate::config::AgentConfig;

use super::session;

/// How open brackets and braces are at the end of `text` (strings and comments
/// skipped): above zero, the statement goes on on the next line.
pub fn open_depth(text: &str) -> i64 {
    let mut depth = 0i64;
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    let mut block_comment = false;
    while let Some(c) = chars.next() {
        if block_comment {
            if c == '*' && chars.peek() == Some(&'/') {
                chars.next();
                block_comment = false;
            }
            continue;
        }
        if let Some(q) = quote {
            match c {
                '\\' => {
                    chars.next();
                }
                c if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '`' | '\'' => quote = Some(c),
            '/' if chars.peek() == Some(&'/') => {
                // The rest of the line is a comment.
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                block_comment = true;
            }
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            _ => {}
        }
    }
    depth + i64::from(quote == Some('`'))
}

/// What the host thread is told next.
enum Input {
    Line(String),
    /// Standard input ended (or could not be read).
    End,
    /// Ctrl-C or SIGTERM: stop now.
    Stop,
}

/// Runs the shell for `bot` until standard input ends. Exit 0 at the end of the
/// input (statements that failed were reported and do not change it), 1 when the
/// browser could not open or `login()` failed, 130 after Ctrl-C or SIGTERM (which
/// also interrupts the statement that runs). Every way out closes the browser and
/// stops the driver.
pub async fn run(config: AgentConfig, bot: Bot, headed: bool, data_dir: PathBuf) -> ExitCode {
    let settings = session::settings(&config, Some(&bot), headed);
    let driver = match session::start_driver(&settings).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let work_dir = data_dir.join("shell").join(&bot.name);
    if let Err(e) = std::fs::create_dir_all(&work_dir) {
        eprintln!("error: cannot create {}: {e}", work_dir.display());
        driver.stop().await;
        return ExitCode::from(1);
    }
    let handle = Handle::current();
    let url = driver.url().to_string();
    let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
    let (input_tx, input) = std::sync::mpsc::channel();
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel();
    // Standard input is read on a thread of its own (a blocked read holds nothing),
    // the host lives on another.
    let reader = input_tx.clone();
    let read = std::thread::Builder::new()
        .name("juru-shell-stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                match line {
                    Ok(line) => {
                        if reader.send(Input::Line(line)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        eprintln!("error: cannot read standard input: {e}");
                        break;
                    }
                }
            }
            let _ = reader.send(Input::End);
        });
    let host = read.and_then(|_| {
        std::thread::Builder::new()
            .name("juru-shell".into())
            .spawn(move || {
                let code = session_loop(
                    handle, cancel, &config, &bot, &settings, &url, &work_dir, input,
                );
                let _ = done_tx.send(code);
            })
    });
    if let Err(e) = host {
        eprintln!("error: cannot start the shell: {e}");
        driver.stop().await;
        return ExitCode::from(1);
    }
    let code = tokio::select! {
        code = &mut done_rx => code.unwrap_or(1),
        _ = stop_signal() => {
            eprintln!("interrupted: closing the browser");
            let _ = cancel_tx.send(true);
            let _ = input_tx.send(Input::Stop);
            let _ = tokio::time::timeout(std::time::Duration::from_secs(20), done_rx).await;
            130
        }
    };
    driver.stop().await;
    ExitCode::from(code)
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn session_loop(
    handle: Handle,
    cancel: tokio::sync::watch::Receiver<bool>,
    config: &AgentConfig,
    bot: &Bot,
    settings: &crate::browser::Settings,
    url: &str,
    work_dir: &std::path::Path,
    input: std::sync::mpsc::Receiver<Input>,
) -> u8 {
    let mut bot_host = match session::bot_host(
        handle.clone(),
        cancel.clone(),
        config,
        bot,
        settings,
        url,
        work_dir,
    ) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let login = if bot_host.host.defines("login", 0) {
        " and logged in by login()"
    } else {
        ""
    };
    let terminal = std::io::stdin().is_terminal();
    if terminal {
        eprintln!(
            "juru shell: bot {}, browser open{login}. Type Rhai statements (browser, vars, secret(), log); Ctrl-D ends.",
            bot.name
        );
    }
    let limit = bot.timeout_per_item;
    let mut buffer = String::new();
    let mut line_no = 0usize;
    let mut start_line = 1usize;
    let mut code = 0;
    loop {
        if terminal {
            eprint!(
                "{}",
                if buffer.is_empty() {
                    "juru> "
                } else {
                    "....> "
                }
            );
            let _ = std::io::stderr().flush();
        }
        let ended = match input.recv() {
            Ok(Input::Line(line)) => {
                line_no += 1;
                if buffer.is_empty() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    start_line = line_no;
                }
                buffer.push_str(&line);
                buffer.push('\n');
                if open_depth(&buffer) > 0 {
                    continue;
                }
                false
            }
            Ok(Input::End) | Err(_) => true,
            Ok(Input::Stop) => {
                code = 130;
                buffer.clear();
                true
            }
        };
        if !buffer.trim().is_empty() && !*cancel.borrow() {
            // Blank lines in front, so that errors name the line of the input.
            let code = format!("{}{buffer}", "\n".repeat(start_line - 1));
            match bot_host.host.eval(&code, "stdin", limit) {
                Ok(value) if value.is_unit() => {}
                Ok(value) => outln!("{}", bot_host.redactor.redact(&shown_value(&value))),
                Err(e) => eprintln!("error: {}", bot_host.redactor.redact(&e.message())),
            }
            buffer.clear();
        }
        if ended || *cancel.borrow() {
            break;
        }
    }
    if let Some(browser) = bot_host.host.set_browser(None) {
        handle.block_on(browser.close());
    }
    code
}

/// A value as the shell prints it: text as it is, anything else as Rhai writes it.
fn shown_value(value: &rhai::Dynamic) -> String {
    if value.is_string() {
        value.to_string()
    } else {
        format!("{value:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::open_depth;

    #[test]
    fn open_blocks_continue_on_the_next_line() {
        assert_eq!(open_depth("browser.open(\"x\");"), 0);
        assert_eq!(open_depth("browser.in_frame(\"main\", || {"), 2);
        assert_eq!(open_depth("let s = \"{\";"), 0);
        assert_eq!(open_depth("let s = `a ${x} {`;"), 0);
        assert_eq!(open_depth("let s = `two\n"), 1);
        assert_eq!(open_depth("fn f() { // }\n"), 1);
        assert_eq!(open_depth("if x { /* } */ y }"), 0);
    }
}
