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

/// Runs the shell for `bot` until standard input ends. Exit 0 at the end of the
/// input (statements that failed were reported and do not change it), 1 when the
/// browser could not open or `login()` failed.
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
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    // A plain thread, not a blocking task: one blocked reading standard input must
    // not hold the process open when the shell is interrupted.
    let spawned = std::thread::Builder::new()
        .name("juru-shell".into())
        .spawn(move || {
            let code = session_loop(handle, &config, &bot, &settings, &url, &work_dir);
            let _ = done_tx.send(code);
        });
    if let Err(e) = spawned {
        eprintln!("error: cannot start the shell thread: {e}");
        driver.stop().await;
        return ExitCode::from(1);
    }
    let code = tokio::select! {
        code = done_rx => code.unwrap_or(1),
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: closing the browser");
            130
        }
    };
    driver.stop().await;
    ExitCode::from(code)
}

fn session_loop(
    handle: Handle,
    config: &AgentConfig,
    bot: &Bot,
    settings: &crate::browser::Settings,
    url: &str,
    work_dir: &std::path::Path,
) -> u8 {
    let mut bot_host = match session::bot_host(handle.clone(), config, bot, settings, url, work_dir)
    {
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
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut buffer = String::new();
    let mut line_no = 0usize;
    let mut start_line = 1usize;
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
        let next = lines.next();
        let ended = match next {
            Some(Ok(line)) => {
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
            Some(Err(e)) => {
                eprintln!("error: cannot read standard input: {e}");
                true
            }
            None => true,
        };
        if !buffer.trim().is_empty() {
            // Blank lines in front, so that errors name the line of the input.
            let code = format!("{}{buffer}", "\n".repeat(start_line - 1));
            match bot_host.host.eval(&code, "stdin", limit) {
                Ok(value) if value.is_unit() => {}
                Ok(value) => outln!("{}", bot_host.redactor.redact(&shown_value(&value))),
                Err(e) => eprintln!("error: {}", bot_host.redactor.redact(&e.message())),
            }
            buffer.clear();
        }
        if ended {
            break;
        }
    }
    if let Some(browser) = bot_host.host.set_browser(None) {
        handle.block_on(browser.close());
    }
    0
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
