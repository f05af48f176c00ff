//! The progress line of a run on a terminal: items done of total, rate, time left,
//! exceptions. When standard error is not a terminal the per-item log lines are the
//! progress.

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::worker::Job;

fn on_terminal(wanted: bool) -> bool {
    wanted && std::io::stderr().is_terminal()
}

/// Draws the line every half second while the run works.
pub(super) fn spawn(job: Arc<Job>, total: usize, wanted: bool) -> JoinHandle<()> {
    tokio::spawn(async move {
        if !on_terminal(wanted) {
            return;
        }
        let start = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let done = job.progress.done.load(Ordering::Relaxed);
            let exceptions = job.progress.exceptions.load(Ordering::Relaxed);
            let _ = write!(
                std::io::stderr(),
                "\r\x1b[2K{}",
                line(done, exceptions, total, start.elapsed())
            );
        }
    })
}

/// Clears the line once the run is over.
pub(super) fn clear(wanted: bool) {
    if on_terminal(wanted) {
        let _ = write!(std::io::stderr(), "\r\x1b[2K");
    }
}

/// `[########------------] 12/25  4.1/min  ETA 3m10s  2 exceptions`
pub(super) fn line(done: usize, exceptions: usize, total: usize, elapsed: Duration) -> String {
    let finished = done + exceptions;
    let width = 20;
    let filled = (finished * width).checked_div(total).unwrap_or(width);
    let per_min = if elapsed.as_secs_f64() > 0.0 {
        finished as f64 * 60.0 / elapsed.as_secs_f64()
    } else {
        0.0
    };
    let eta = if finished > 0 && total > finished {
        let secs = elapsed.as_secs_f64() / finished as f64 * (total - finished) as f64;
        format!("  ETA {}m{:02}s", secs as u64 / 60, secs as u64 % 60)
    } else {
        String::new()
    };
    format!(
        "[{}{}] {finished}/{total}  {per_min:.1}/min{eta}  {exceptions} exception{}",
        "#".repeat(filled.min(width)),
        "-".repeat(width - filled.min(width)),
        if exceptions == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::line;
    use std::time::Duration;

    #[test]
    fn progress_line() {
        assert_eq!(
            line(9, 1, 20, Duration::from_secs(60)),
            "[##########----------] 10/20  10.0/min  ETA 1m00s  1 exception"
        );
        assert_eq!(
            line(0, 0, 0, Duration::ZERO),
            "[####################] 0/0  0.0/min  0 exceptions"
        );
    }
}
