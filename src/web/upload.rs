//! "Run now" with a workbook uploaded from the browser: a small streaming
//! multipart/form-data reader (the dashboard's only upload), where uploaded
//! workbooks are kept, and their clean-up.
//!
//! The body is read in chunks as they arrive: small fields (the CSRF token) are
//! kept in memory up to [`MAX_FIELD`] bytes, the file's bytes are handed on to be
//! written to disk, so an upload never sits in memory whole. The handler checks the
//! login and the role before it reads the first chunk.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The largest workbook the dashboard takes.
pub(super) const MAX_UPLOAD: usize = 20 * 1024 * 1024;
/// The largest request body of an upload: the workbook and the form around it.
pub(super) const MAX_BODY: usize = MAX_UPLOAD + 64 * 1024;
/// The largest form field other than the file.
const MAX_FIELD: usize = 4 * 1024;
/// The largest head of one part.
const MAX_HEAD: usize = 8 * 1024;
/// Uploads older than this are removed ...
pub const KEEP: Duration = Duration::from_secs(30 * 24 * 3600);
/// ... when the dashboard starts and then this often.
pub(super) const CLEAN_EVERY: Duration = Duration::from_secs(24 * 3600);

/// The kinds of file a bot can read.
const WORKBOOKS: [&str; 8] = ["xlsx", "xlsm", "xls", "xlsb", "ods", "csv", "tsv", "txt"];

/// What the reader found in the chunks given to it so far, in order.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// A form field other than a file.
    Field { name: String, value: String },
    /// A file part begins.
    FileStart { name: String, file_name: String },
    /// Bytes of the file part that began last.
    FileData(Vec<u8>),
}

/// Why a body is not a multipart/form-data body juru takes.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Malformed(pub &'static str);

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Before the first delimiter (the preamble) or inside a part's data.
    Data,
    /// Just after a delimiter: `--` (the end) or a line break (a part) follows.
    AfterDelimiter,
    /// A part's head, up to an empty line.
    Head,
    Done,
}

#[derive(Debug)]
enum Part {
    Preamble,
    Field { name: String, value: Vec<u8> },
    File,
}

/// A multipart/form-data body read chunk by chunk.
#[derive(Debug)]
pub(super) struct Reader {
    /// `\r\n--BOUNDARY`.
    delimiter: Vec<u8>,
    buf: Vec<u8>,
    state: State,
    part: Part,
}

/// The boundary of a multipart/form-data content type.
pub(super) fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';').map(str::trim);
    if !params.next()?.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let b = params
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    (!b.is_empty() && b.len() <= 70).then(|| b.to_string())
}

impl Reader {
    pub fn new(boundary: &str) -> Reader {
        Reader {
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            // The body begins with the delimiter without its line break.
            buf: b"\r\n".to_vec(),
            state: State::Data,
            part: Part::Preamble,
        }
    }

    /// Reads one more chunk of the body.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Event>, Malformed> {
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
        loop {
            match self.state {
                State::Done => {
                    self.buf.clear();
                    return Ok(events);
                }
                State::Data => match find(&self.buf, &self.delimiter) {
                    Some(at) => {
                        let data: Vec<u8> = self.buf.drain(..at).collect();
                        self.buf.drain(..self.delimiter.len());
                        self.data(data, &mut events)?;
                        self.end_part(&mut events);
                        self.state = State::AfterDelimiter;
                    }
                    None => {
                        // Keep what could be the start of a delimiter.
                        let keep = self.delimiter.len() - 1;
                        if self.buf.len() > keep {
                            let data: Vec<u8> = self.buf.drain(..self.buf.len() - keep).collect();
                            self.data(data, &mut events)?;
                        }
                        return Ok(events);
                    }
                },
                State::AfterDelimiter => {
                    if self.buf.len() < 2 {
                        return Ok(events);
                    }
                    if self.buf.starts_with(b"--") {
                        self.state = State::Done;
                    } else if self.buf.starts_with(b"\r\n") {
                        self.buf.drain(..2);
                        self.state = State::Head;
                    } else {
                        return Err(Malformed(
                            "a boundary is followed by neither a line break nor \"--\"",
                        ));
                    }
                }
                State::Head => match find(&self.buf, b"\r\n\r\n") {
                    Some(at) => {
                        let head = String::from_utf8_lossy(&self.buf[..at]).to_string();
                        self.buf.drain(..at + 4);
                        self.begin_part(&head, &mut events);
                        self.state = State::Data;
                    }
                    None if self.buf.len() > MAX_HEAD => {
                        return Err(Malformed("the head of a part is too long"))
                    }
                    None => return Ok(events),
                },
            }
        }
    }

    /// The body ended: `Err` when it ended before its closing boundary.
    pub fn finish(&self) -> Result<(), Malformed> {
        if self.state == State::Done {
            Ok(())
        } else {
            Err(Malformed("the body ends before its closing boundary"))
        }
    }

    fn data(&mut self, data: Vec<u8>, events: &mut Vec<Event>) -> Result<(), Malformed> {
        if data.is_empty() {
            return Ok(());
        }
        match &mut self.part {
            Part::Preamble => {}
            Part::Field { value, .. } => {
                if value.len() + data.len() > MAX_FIELD {
                    return Err(Malformed("a form field is too long"));
                }
                value.extend_from_slice(&data);
            }
            Part::File => events.push(Event::FileData(data)),
        }
        Ok(())
    }

    fn end_part(&mut self, events: &mut Vec<Event>) {
        if let Part::Field { name, value } = std::mem::replace(&mut self.part, Part::Preamble) {
            events.push(Event::Field {
                name,
                value: String::from_utf8_lossy(&value).to_string(),
            });
        }
    }

    fn begin_part(&mut self, head: &str, events: &mut Vec<Event>) {
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .unwrap_or_default();
        let attr = |key: &str| {
            disposition
                .split(';')
                .map(str::trim)
                .find_map(|a| a.strip_prefix(&format!("{key}=")))
                .map(|v| v.trim_matches('"').to_string())
        };
        let name = attr("name").unwrap_or_default();
        self.part = match attr("filename") {
            Some(file_name) => {
                events.push(Event::FileStart { name, file_name });
                Part::File
            }
            None => Part::Field {
                name,
                value: Vec::new(),
            },
        };
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Where an uploaded workbook is kept: `<data>/uploads/<stamp>-<unique>-<name>`,
/// with a name made safe (`unique` keeps two uploads of one name in one second
/// apart); `Err` says why the file is refused.
pub(super) fn destination(
    data_dir: &Path,
    file_name: &str,
    stamp: &str,
    unique: &str,
) -> Result<PathBuf, String> {
    let base = Path::new(file_name)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let safe: String = base
        .chars()
        .take(120)
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.trim_matches('.').is_empty() || !WORKBOOKS.contains(&extension(&safe).as_str()) {
        return Err(format!(
            "\"{file_name}\" is not a workbook juru reads (.{})",
            WORKBOOKS.join(", .")
        ));
    }
    Ok(data_dir
        .join("uploads")
        .join(format!("{stamp}-{unique}-{safe}")))
}

/// The lower-case extension of a file name.
pub(super) fn extension(name: &str) -> String {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase)
        .unwrap_or_default()
}

/// Removes the files in `dir` last changed more than [`KEEP`] ago (uploads and
/// uploads that were never finished); how many went. Blocking.
pub(super) fn remove_old(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.filter_map(|e| e.ok()) {
        let Ok(meta) = e.path().symlink_metadata() else {
            continue;
        };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > KEEP);
        if old && !meta.is_dir() {
            match std::fs::remove_file(e.path()) {
                Ok(()) => removed += 1,
                Err(err) => {
                    tracing::warn!(file = %e.path().display(), error = %err, "dashboard: cannot remove an old upload")
                }
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"preamble\r\n--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n--B\r\nContent-Disposition: form-data; name=\"input\"; filename=\"masuk.xlsx\"\r\nContent-Type: application/octet-stream\r\n\r\nPK\x03\x04\r\n--C\r\n-\r\n--B--\r\nepilogue";

    /// The events of `body` read in chunks of `size` bytes, the file data joined.
    fn read(body: &[u8], size: usize) -> (Vec<Event>, Vec<u8>, Result<(), Malformed>) {
        let mut r = Reader::new("B");
        let mut events = Vec::new();
        let mut data = Vec::new();
        for chunk in body.chunks(size) {
            for e in r.push(chunk).unwrap() {
                match e {
                    Event::FileData(d) => data.extend(d),
                    e => events.push(e),
                }
            }
        }
        (events, data, r.finish())
    }

    #[test]
    fn reads_fields_and_files_in_any_chunks() {
        for size in [1, 2, 3, 5, 7, 16, 64, BODY.len()] {
            let (events, data, end) = read(BODY, size);
            assert_eq!(
                events,
                vec![
                    Event::Field {
                        name: "csrf".into(),
                        value: "abc".into()
                    },
                    Event::FileStart {
                        name: "input".into(),
                        file_name: "masuk.xlsx".into()
                    },
                ],
                "chunks of {size}"
            );
            assert_eq!(data, b"PK\x03\x04\r\n--C\r\n-", "chunks of {size}");
            assert_eq!(end, Ok(()));
        }
        let cut = &BODY[..BODY.len() - 20];
        assert!(read(cut, 8).2.is_err(), "a body cut short");
    }

    #[test]
    fn refuses_what_is_not_a_form() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"XYZ\"").as_deref(),
            Some("XYZ")
        );
        assert_eq!(boundary("text/plain; boundary=XYZ"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        let mut r = Reader::new("B");
        let long = format!(
            "--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}",
            "x".repeat(MAX_FIELD + 100)
        );
        assert!(r.push(long.as_bytes()).is_err());
        let mut r = Reader::new("B");
        assert!(r.push(&vec![b'h'; MAX_HEAD + 100]).is_ok(), "preamble");
        let mut r = Reader::new("B");
        let head = format!("--B\r\n{}", "h".repeat(MAX_HEAD + 1));
        assert!(r.push(head.as_bytes()).is_err());
    }

    #[test]
    fn only_workbooks_with_safe_unique_names() {
        let d = Path::new("/data");
        assert_eq!(
            destination(d, "../../etc/Permohonan Maret.xlsx", "20261127", "a1b2").unwrap(),
            PathBuf::from("/data/uploads/20261127-a1b2-Permohonan_Maret.xlsx")
        );
        assert!(destination(d, "skrip.sh", "x", "y").is_err());
        assert!(destination(d, "..", "x", "y").is_err());
    }

    #[test]
    fn old_uploads_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.xlsx");
        let new = dir.path().join("new.xlsx");
        std::fs::write(&old, b"x").unwrap();
        std::fs::write(&new, b"x").unwrap();
        let long_ago = std::time::SystemTime::now() - KEEP - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        assert_eq!(remove_old(dir.path()), 1);
        assert!(!old.exists() && new.exists());
        assert_eq!(remove_old(&dir.path().join("none")), 0);
    }
}
