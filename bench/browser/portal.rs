//! The browser benchmark's portal: juru's bundled demo portal with the NIK check
//! answering at once, so that the benchmark measures the browser work rather than
//! the portal's simulated registry delay.
//!
//! Prints the portal's URL on the first line of stdout, then serves until a line
//! arrives on stdin (or stdin closes); then prints every saved record as one JSON
//! array and exits.
//!
//!     cargo run --release --example bench_portal

use std::io::BufRead;
use std::net::SocketAddr;

use juru::demo::{Portal, PortalOptions};

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = PortalOptions {
        nik_check_ms: (0, 0),
        ..Default::default()
    };
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let portal = Portal::start_with(addr, options).await?;
    println!("{}", portal.url());
    // Wait for the benchmark to ask for the records (a blocking read on its own thread).
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
    })
    .await?;
    println!("{}", serde_json::to_string(&portal.records())?);
    portal.stop().await;
    Ok(())
}
