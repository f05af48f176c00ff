//! A remote WebDriver, usually a Selenium Grid 4 shared by several agents: how busy
//! it is (`GET /status`), waiting for a free browser when every slot is taken (the
//! Grid queues the new-session request; juru waits up to `Settings::grid_wait`),
//! telling a session the Grid lost (its node died) from other failures, and the
//! Grid's managed downloads (`/session/{id}/se/files`), which bring a file the
//! remote browser downloaded into the run's own download folder.
//!
//! All async. Nothing here is used for a local chromedriver.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::error::CmdError;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::BrowserError;

/// What a Grid 4's `GET /status` says of its nodes that are up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slots {
    pub total: usize,
    /// Slots running a session now.
    pub busy: usize,
    /// Some node keeps the files its browsers download (`--enable-managed-downloads`).
    pub downloads: bool,
}

/// The Grid's slots; `None` when the server does not say (not a Grid 4, or it does
/// not answer).
pub(super) async fn slots(url: &str) -> Option<Slots> {
    let status = get_json(&format!("{}/status", url.trim_end_matches('/'))).await?;
    count_slots(&status)
}

fn count_slots(status: &Value) -> Option<Slots> {
    let nodes = status["value"]["nodes"].as_array()?;
    let mut slots = Slots {
        total: 0,
        busy: 0,
        downloads: false,
    };
    for node in nodes {
        if node["availability"].as_str().is_some_and(|a| a != "UP") {
            continue;
        }
        for slot in node["slots"].as_array().into_iter().flatten() {
            slots.total += 1;
            if !slot["session"].is_null() {
                slots.busy += 1;
            }
            if slot["stereotype"]["se:downloadsEnabled"] == true {
                slots.downloads = true;
            }
        }
    }
    Some(slots)
}

/// Whether the Grid's new-session queue holds the request carrying `marker` (juru
/// sends it as the capability `juru:request`): it waits for a slot, rather than a
/// slot starting its browser. `None` when the server does not say.
pub(super) async fn queued(url: &str, marker: &str) -> Option<bool> {
    let queue = get_json(&format!(
        "{}/se/grid/newsessionqueue/queue",
        url.trim_end_matches('/')
    ))
    .await?;
    in_queue(&queue, marker)
}

fn in_queue(queue: &Value, marker: &str) -> Option<bool> {
    let requests = queue["value"].as_array()?;
    Some(requests.iter().any(|r| {
        r["capabilities"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c[MARKER] == marker)
    }))
}

/// The capability that marks juru's new-session request in the Grid's queue.
pub(super) const MARKER: &str = "juru:request";

/// The sentence juru logs while it waits for a free slot.
pub(super) fn waiting_line(url: &str, total: usize) -> String {
    let s = if total == 1 { "" } else { "s" };
    format!("waiting for a free browser on the grid at {url}: all {total} slot{s} busy")
}

/// The Grid gave up on a queued new-session request (its own
/// `--session-request-timeout`): juru asks again while its own wait lasts.
pub(super) fn is_queue_timeout(message: &str) -> bool {
    let m = message.to_lowercase();
    m.contains("new session request timed out")
        || m.contains("request timed out")
        || m.contains("new session queue")
}

/// The command failed because the session is gone on the remote side: the Grid
/// cannot reach the node that held it (the node died), or no longer knows it.
pub(super) fn is_lost(e: &CmdError) -> bool {
    if matches!(e, CmdError::Lost(_) | CmdError::FailedC(_)) {
        return true;
    }
    let text = e.to_string().to_lowercase();
    [
        "unable to execute request for an existing session",
        "unable to find session with id",
        "invalid session id",
        "no such session",
        "connection refused",
        "session not found",
    ]
    .iter()
    .any(|p| text.contains(p))
}

/// A plain HTTP/1.1 GET of a JSON document (the Grid's status), bounded in time.
async fn get_json(address: &str) -> Option<Value> {
    let url = url::Url::parse(address).ok()?;
    if url.scheme() != "http" {
        return None;
    }
    let host = url.host_str()?.to_string();
    let port = url.port_or_known_default()?;
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let attempt = async {
        let mut stream = TcpStream::connect((host.as_str(), port)).await.ok()?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.ok()?;
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
        let body = &raw[split + 4..];
        let body = if head.contains("transfer-encoding: chunked") {
            dechunk(body)?
        } else {
            body.to_vec()
        };
        serde_json::from_slice(&body).ok()
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .ok()
        .flatten()
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

/// The names in the answer of `GET /session/{id}/se/files`.
pub(super) fn file_names(answer: &Value) -> Vec<String> {
    answer["names"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A file the browser is still writing.
pub(super) fn is_partial(name: &str) -> bool {
    name.ends_with(".crdownload")
        || name.ends_with(".tmp")
        || name.starts_with(".com.google.Chrome")
}

/// Unpacks the answer of `POST /session/{id}/se/files` (`contents`: a base64 zip
/// holding the one file) into `dir`; returns the file's path there. A name that
/// would leave `dir` is refused.
pub(super) fn unpack(answer: &Value, name: &str, dir: &Path) -> Result<PathBuf, BrowserError> {
    use base64::Engine as _;
    let bad = |why: String| {
        BrowserError::Io(format!(
            "the grid's copy of the downloaded file \"{name}\" cannot be read: {why}"
        ))
    };
    let contents = answer["contents"]
        .as_str()
        .ok_or_else(|| bad("the answer has no contents".into()))?;
    let zipped = base64::engine::general_purpose::STANDARD
        .decode(contents.trim())
        .map_err(|e| bad(e.to_string()))?;
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(zipped)).map_err(|e| bad(e.to_string()))?;
    if archive.is_empty() {
        return Err(bad("the zip holds no file".into()));
    }
    let mut entry = archive.by_index(0).map_err(|e| bad(e.to_string()))?;
    let entry_name = entry.name().map_err(|e| bad(e.to_string()))?.to_string();
    let base = Path::new(&entry_name)
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .map(str::to_string)
        .ok_or_else(|| bad("the zip names no file".into()))?;
    let mut bytes = Vec::new();
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| bad(e.to_string()))?;
    let path = dir.join(base);
    super::session::write_file(&path, &bytes)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_busy_slots_of_nodes_that_are_up() {
        let status = json!({"value": {"ready": false, "nodes": [
            {"availability": "UP", "slots": [{"session": {"sessionId": "a"}}, {"session": null}]},
            {"availability": "DOWN", "slots": [{"session": null, "stereotype": {"se:downloadsEnabled": true}}]},
        ]}});
        assert_eq!(
            count_slots(&status),
            Some(Slots {
                total: 2,
                busy: 1,
                downloads: false
            })
        );
        let status = json!({"value": {"nodes": [{"availability": "UP", "slots": [
            {"session": null, "stereotype": {"browserName": "chrome", "se:downloadsEnabled": true}},
        ]}]}});
        assert!(count_slots(&status).unwrap().downloads);
        assert_eq!(count_slots(&json!({"value": {"ready": true}})), None);
    }

    #[test]
    fn finds_its_request_in_the_queue() {
        let queue = json!({"value": [{"requestId": "r1", "capabilities": [
            {"browserName": "chrome", "juru:request": "41-0"},
        ]}]});
        assert_eq!(in_queue(&queue, "41-0"), Some(true));
        assert_eq!(in_queue(&queue, "41-1"), Some(false));
        assert_eq!(
            in_queue(&json!({"value": {"error": "unknown command"}}), "41-0"),
            None
        );
    }

    #[test]
    fn decodes_chunked_bodies() {
        assert_eq!(
            dechunk(b"4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n").unwrap(),
            b"{\"a\":1}".to_vec()
        );
        assert!(dechunk(b"zz\r\n").is_none());
    }

    #[test]
    fn unpacks_one_file_and_keeps_it_in_the_folder() {
        use base64::Engine as _;
        use std::io::Write as _;
        let mut zipped = Vec::new();
        {
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut zipped));
            w.start_file("../../keluar.csv", zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(b"No;Nama\r\n").unwrap();
            w.finish().unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let answer = json!({"filename": "keluar.csv",
            "contents": base64::engine::general_purpose::STANDARD.encode(&zipped)});
        let path = unpack(&answer, "keluar.csv", dir.path()).unwrap();
        assert_eq!(path, dir.path().join("keluar.csv"));
        assert_eq!(std::fs::read(&path).unwrap(), b"No;Nama\r\n");
        let err = unpack(&json!({"contents": "!!"}), "x.csv", dir.path()).unwrap_err();
        assert!(err.to_string().contains("\"x.csv\""), "{err}");
    }

    #[test]
    fn tells_queue_timeouts_and_partial_files() {
        assert!(is_queue_timeout(
            "Could not start a new session. New session request timed out"
        ));
        assert!(!is_queue_timeout("cannot find Chrome binary"));
        assert!(is_partial("daftar.csv.crdownload"));
        assert!(!is_partial("daftar.csv"));
        assert_eq!(
            waiting_line("http://127.0.0.1:4444", 2),
            "waiting for a free browser on the grid at http://127.0.0.1:4444: all 2 slots busy"
        );
    }
}
