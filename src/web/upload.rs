//! "Run now" with a workbook uploaded from the browser: a small multipart/form-data
//! reader (the dashboard's only upload), and where uploaded workbooks are kept.

use std::path::{Path, PathBuf};

/// The largest workbook the dashboard takes.
pub(super) const MAX_UPLOAD: usize = 20 * 1024 * 1024;

/// The kinds of file a bot can read.
const WORKBOOKS: [&str; 8] = ["xlsx", "xlsm", "xls", "xlsb", "ods", "csv", "tsv", "txt"];

/// One part of a multipart/form-data body.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Part {
    pub name: String,
    /// The file name, for a file part.
    pub file_name: Option<String>,
    pub data: Vec<u8>,
}

/// The parts of a multipart/form-data body; `None` when it is not one.
pub(super) fn parts(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    if boundary.is_empty() {
        return None;
    }
    let delimiter = format!("--{boundary}");
    let d = delimiter.as_bytes();
    let mut out = Vec::new();
    let mut rest = body;
    let start = find(rest, d)?;
    rest = &rest[start + d.len()..];
    while !rest.starts_with(b"--") {
        let end = find(rest, d)?;
        let part = rest[..end].strip_prefix(b"\r\n").unwrap_or(&rest[..end]);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let split = find(part, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&part[..split]).to_string();
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .unwrap_or_default()
            .to_string();
        let attr = |key: &str| {
            disposition
                .split(';')
                .map(str::trim)
                .find_map(|a| a.strip_prefix(&format!("{key}=")))
                .map(|v| v.trim_matches('"').to_string())
        };
        out.push(Part {
            name: attr("name").unwrap_or_default(),
            file_name: attr("filename"),
            data: part[split + 4..].to_vec(),
        });
        rest = &rest[end + d.len()..];
    }
    Some(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Where an uploaded workbook is kept: `<data>/uploads/<stamp>-<name>`, with a name
/// made safe; `Err` says why the file is refused.
pub(super) fn destination(
    data_dir: &Path,
    file_name: &str,
    stamp: &str,
) -> Result<PathBuf, String> {
    let base = Path::new(file_name)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let safe: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let extension = Path::new(&safe)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase)
        .unwrap_or_default();
    if safe.trim_matches('.').is_empty() || !WORKBOOKS.contains(&extension.as_str()) {
        return Err(format!(
            "\"{file_name}\" is not a workbook juru reads (.{})",
            WORKBOOKS.join(", .")
        ));
    }
    Ok(data_dir.join("uploads").join(format!("{stamp}-{safe}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_files() {
        let body = b"--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n--B\r\nContent-Disposition: form-data; name=\"input\"; filename=\"masuk.xlsx\"\r\nContent-Type: application/octet-stream\r\n\r\nPK\x03\x04\r\n--B--\r\n";
        let found = parts("multipart/form-data; boundary=B", body).unwrap();
        assert_eq!(
            found[0],
            Part {
                name: "csrf".into(),
                file_name: None,
                data: b"abc".to_vec()
            }
        );
        assert_eq!(found[1].file_name.as_deref(), Some("masuk.xlsx"));
        assert_eq!(found[1].data, b"PK\x03\x04");
        assert!(parts("text/plain", body).is_none());
    }

    #[test]
    fn only_workbooks_with_safe_names() {
        let d = Path::new("/data");
        assert_eq!(
            destination(d, "../../etc/Permohonan Maret.xlsx", "20261127").unwrap(),
            PathBuf::from("/data/uploads/20261127-Permohonan_Maret.xlsx")
        );
        assert!(destination(d, "skrip.sh", "x").is_err());
        assert!(destination(d, "..", "x").is_err());
    }
}
