//! SIGTERM and Ctrl-C for the agent, handled by a task of their own so that a stop
//! takes effect at once, whatever the agent's loop is doing: the first signal tells
//! every run to start no other item (and the loop to fire nothing more), a second
//! one aborts the items under way.

use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// The agent's view of the stop signals.
pub struct Signals {
    count: watch::Receiver<u32>,
    abort: Arc<watch::Sender<bool>>,
}

/// Starts listening; `finish` and `abort` are the runs' [`crate::run::Stop`] senders.
pub fn listen(finish: watch::Sender<bool>, abort: watch::Sender<bool>) -> Result<Signals, String> {
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| format!("cannot listen for SIGINT: {e}"))?;
    let (count_tx, count) = watch::channel(0u32);
    let abort = Arc::new(abort);
    let abort_task = abort.clone();
    tokio::spawn(async move {
        let mut n = 0u32;
        loop {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            n += 1;
            if n == 1 {
                let _ = finish.send(true);
                tracing::warn!(
                    "stop signal: no new run or item starts; items under way may finish within {} s (signal again to abort them)",
                    super::STOP_GRACE.as_secs()
                );
            } else {
                let _ = abort_task.send(true);
                tracing::warn!("second stop signal: aborting the items under way");
            }
            let _ = count_tx.send(n);
        }
    });
    Ok(Signals { count, abort })
}

impl Signals {
    /// Returns once a stop was asked for.
    pub async fn stopping(&mut self) {
        let _ = self.count.wait_for(|n| *n > 0).await;
    }

    /// Aborts the items under way (the stop grace ran out).
    pub fn abort(&self) {
        let _ = self.abort.send(true);
    }
}
