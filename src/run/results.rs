//! What the run did with each item, as the script's `finish(run)` and the bot's
//! result files (`[[output.files]]`) see it.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::bot::{ColumnSource, CsvEncoding, ResultFile, ResultFormat};
use crate::script::FinishedItem;
use crate::sheet::{self, Cell, OutRow, OutSheet};
use crate::store::{self, ItemRecord};

use super::cells;

/// juru's word for an item state: `done`, `business`, `system`, `verify` or
/// `pending` (not processed).
pub(super) fn status_word(state: &str) -> &'static str {
    match state {
        store::state::DONE => "done",
        store::state::BUSINESS_EXCEPTION => "business",
        store::state::SYSTEM_EXCEPTION => "system",
        store::state::NEEDS_VERIFICATION => "verify",
        _ => "pending",
    }
}

/// Every item of a run from its store rows, in input order.
pub(super) fn finished_items(headers: &[String], records: &[ItemRecord]) -> Vec<FinishedItem> {
    records
        .iter()
        .map(|r| {
            let data = cells::row_from_json(&r.data, headers.len());
            FinishedItem {
                row: r.row_number,
                status: status_word(&r.state).to_string(),
                message: r.reason.clone().unwrap_or_default(),
                data: headers.iter().cloned().zip(data).collect(),
                outputs: cells::outputs_from_json(&r.outputs),
            }
        })
        .collect()
}

/// Writes the bot's result files into the run folder `dir`; each appears whole or
/// not at all. Returns the files written.
pub(super) fn write(
    dir: &Path,
    files: &[ResultFile],
    items: &[FinishedItem],
) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    for f in files {
        let path = dir.join(&f.file);
        let rows: Vec<Vec<Cell>> = items
            .iter()
            .filter(|i| f.only.is_empty() || f.only.contains(&i.status))
            .map(|i| f.columns.iter().map(|c| value(f, &c.from, i)).collect())
            .collect();
        let headers: Vec<String> = f.columns.iter().map(|c| c.header.clone()).collect();
        match &f.format {
            ResultFormat::Xlsx { sheet: name } => {
                let out = OutSheet {
                    name: name.clone(),
                    headers,
                    rows: rows
                        .into_iter()
                        .map(|cells| OutRow { cells, tone: None })
                        .collect(),
                    tone_column: None,
                };
                sheet::write(&path, &[out]).map_err(|e| e.to_string())?;
            }
            ResultFormat::Csv {
                delimiter,
                encoding,
            } => write_csv(&path, *delimiter, *encoding, &headers, &rows)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        }
        written.push(path);
    }
    Ok(written)
}

fn value(f: &ResultFile, from: &ColumnSource, item: &FinishedItem) -> Cell {
    match from {
        ColumnSource::Status => Cell::Text(
            f.status
                .get(&item.status)
                .cloned()
                .unwrap_or_else(|| item.status.clone()),
        ),
        ColumnSource::Message => Cell::Text(item.message.clone()),
        ColumnSource::Row => Cell::Int(item.row),
        ColumnSource::Named(name) => item
            .outputs
            .iter()
            .find(|(n, _)| n == name)
            .or_else(|| item.data.iter().find(|(n, _)| n == name))
            .or_else(|| {
                item.data
                    .iter()
                    .find(|(n, _)| n.trim().eq_ignore_ascii_case(name.trim()))
            })
            .map(|(_, c)| c.clone())
            .unwrap_or(Cell::Empty),
    }
}

/// One CSV field: quoted when it holds the separator, a quote or a line break.
fn field(text: &str, delimiter: u8) -> String {
    if text.contains([delimiter as char, '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn write_csv(
    path: &Path,
    delimiter: u8,
    encoding: CsvEncoding,
    headers: &[String],
    rows: &[Vec<Cell>],
) -> std::io::Result<()> {
    let sep = (delimiter as char).to_string();
    let mut text = String::new();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .map(|c| field(c, delimiter))
            .collect::<Vec<_>>()
            .join(&sep)
    };
    text.push_str(&line(headers.to_vec()));
    text.push_str("\r\n");
    for row in rows {
        text.push_str(&line(row.iter().map(Cell::to_text).collect()));
        text.push_str("\r\n");
    }
    let bytes: Vec<u8> = match encoding {
        CsvEncoding::Utf8 => text.into_bytes(),
        CsvEncoding::Utf8Bom => {
            let mut b = vec![0xEF, 0xBB, 0xBF];
            b.extend_from_slice(text.as_bytes());
            b
        }
        CsvEncoding::Windows1252 => {
            let (encoded, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
            if unmappable {
                return Err(std::io::Error::other(
                    "some text has characters windows-1252 cannot hold; use encoding = \"utf-8\"",
                ));
            }
            encoded.into_owned()
        }
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(folder)?;
    tmp.write_all(&bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be() {
        assert_eq!(field("Budi", b','), "Budi");
        assert_eq!(field("Rp 1.000,50", b','), "\"Rp 1.000,50\"");
        assert_eq!(field("Rp 1.000,50", b';'), "Rp 1.000,50");
        assert_eq!(field("kata \"ya\"", b';'), "\"kata \"\"ya\"\"\"");
        assert_eq!(field("dua\nbaris", b';'), "\"dua\nbaris\"");
    }
}
