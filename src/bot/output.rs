//! `[[output.files]]` of bot.toml: result files in the shape an office asks for (a
//! CSV or a workbook with its own columns, headers and status words), written at the
//! end of every run next to `output.xlsx`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::config::Located;
use crate::Problems;

/// The item states a result file can name, with juru's own word for each.
pub const STATUSES: [&str; 5] = ["done", "business", "system", "verify", "pending"];

/// One result file.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultFile {
    /// The file name inside the run folder, e.g. `hasil.csv`.
    pub file: String,
    pub format: ResultFormat,
    pub columns: Vec<ResultColumn>,
    /// The word written for each status (keys of [`STATUSES`]).
    pub status: BTreeMap<String, String>,
    /// Only items of these statuses are written (all when empty).
    pub only: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResultFormat {
    Csv {
        delimiter: u8,
        encoding: CsvEncoding,
    },
    Xlsx {
        sheet: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvEncoding {
    Utf8,
    /// UTF-8 with a byte-order mark: what Excel needs to open non-ASCII text right.
    Utf8Bom,
    Windows1252,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResultColumn {
    pub header: String,
    pub from: ColumnSource,
}

/// Where a result column's values come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnSource {
    /// `@status`: the item's status word.
    Status,
    /// `@message`: why the item ended as it did (empty for done items).
    Message,
    /// `@row`: the item's row number in the input workbook.
    Row,
    /// An output the script set with `item.output(name, …)`, else an input column.
    Named(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OutputFile {
    #[serde(default)]
    files: Vec<ResultFileFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultFileFile {
    file: Spanned<String>,
    columns: Spanned<Vec<ColumnFile>>,
    #[serde(default)]
    status: BTreeMap<Spanned<String>, String>,
    #[serde(default)]
    only: Vec<Spanned<String>>,
    sheet: Option<String>,
    delimiter: Option<Spanned<String>>,
    encoding: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnFile {
    header: String,
    from: Spanned<String>,
}

impl OutputFile {
    pub(super) fn validate(self, at: &Located, problems: &mut Problems) -> Vec<ResultFile> {
        let mut files: Vec<ResultFile> = Vec::new();
        for (i, f) in self.files.into_iter().enumerate() {
            let key = |k: &str| format!("output.files[{}].{k}", i + 1);
            let name = f.file.get_ref().trim().to_string();
            let plain = !name.is_empty()
                && !name.starts_with('.')
                && !name.contains(['/', '\\', ':'])
                && !name.chars().any(char::is_control);
            let lower = name.to_ascii_lowercase();
            let reserved =
                ["output.xlsx", "exceptions.xlsx", "input.json"].contains(&lower.as_str());
            if !plain || reserved {
                problems.0.push(at.problem(
                    &f.file,
                    &key("file"),
                    format!("\"{name}\" is not a file name juru can write in the run folder; expected a plain name such as \"hasil.csv\" or \"hasil.xlsx\" (not output.xlsx or exceptions.xlsx)"),
                ));
                continue;
            }
            if files.iter().any(|o| o.file.eq_ignore_ascii_case(&name)) {
                problems.0.push(at.problem(
                    &f.file,
                    &key("file"),
                    format!("\"{name}\" is named by two result files; each needs its own name"),
                ));
                continue;
            }
            let format = if lower.ends_with(".csv") || lower.ends_with(".txt") {
                let delimiter = match &f.delimiter {
                    None => b',',
                    Some(d) => match d.get_ref().as_str() {
                        "," | "comma" => b',',
                        ";" | "semicolon" => b';',
                        "\t" | "tab" => b'\t',
                        "|" | "pipe" => b'|',
                        other => {
                            problems.0.push(at.problem(
                                d,
                                &key("delimiter"),
                                format!("\"{other}\" is not a separator juru writes; expected \",\", \";\", \"tab\" or \"|\""),
                            ));
                            b','
                        }
                    },
                };
                let encoding = match &f.encoding {
                    None => CsvEncoding::Utf8,
                    Some(e) => match e.get_ref().to_ascii_lowercase().as_str() {
                        "utf-8" | "utf8" => CsvEncoding::Utf8,
                        "utf-8-bom" | "utf8-bom" | "excel" => CsvEncoding::Utf8Bom,
                        "windows-1252" | "cp1252" | "latin1" => CsvEncoding::Windows1252,
                        other => {
                            problems.0.push(at.problem(
                                e,
                                &key("encoding"),
                                format!("\"{other}\" is not an encoding juru writes; expected \"utf-8\", \"utf-8-bom\" (for Excel) or \"windows-1252\""),
                            ));
                            CsvEncoding::Utf8
                        }
                    },
                };
                ResultFormat::Csv {
                    delimiter,
                    encoding,
                }
            } else if lower.ends_with(".xlsx") {
                for (k, v) in [("delimiter", &f.delimiter), ("encoding", &f.encoding)] {
                    if let Some(v) = v {
                        problems.0.push(at.problem(
                            v,
                            &key(k),
                            format!("applies to CSV files only, and \"{name}\" is a workbook"),
                        ));
                    }
                }
                ResultFormat::Xlsx {
                    sheet: f.sheet.clone().unwrap_or_else(|| "Hasil".into()),
                }
            } else {
                problems.0.push(at.problem(
                    &f.file,
                    &key("file"),
                    format!("\"{name}\" must end in .csv or .xlsx, the kinds of result file juru writes"),
                ));
                continue;
            };
            if f.columns.get_ref().is_empty() {
                problems.0.push(at.problem(
                    &f.columns,
                    &key("columns"),
                    "lists no column; expected e.g. [{ header = \"nip\", from = \"NIP\" }, { header = \"status\", from = \"@status\" }]",
                ));
            }
            let mut columns = Vec::new();
            for c in f.columns.into_inner() {
                let from = c.from.get_ref().trim();
                let source = match from {
                    "@status" => ColumnSource::Status,
                    "@message" => ColumnSource::Message,
                    "@row" => ColumnSource::Row,
                    "" => {
                        problems.0.push(at.problem(
                            &c.from,
                            &key("columns"),
                            "a column's `from` is empty; expected an input column, an output name, \"@status\", \"@message\" or \"@row\"",
                        ));
                        continue;
                    }
                    other if other.starts_with('@') => {
                        problems.0.push(at.problem(
                            &c.from,
                            &key("columns"),
                            format!("\"{other}\" is not a value juru knows; expected \"@status\", \"@message\" or \"@row\" (or an input column or output name, without @)"),
                        ));
                        continue;
                    }
                    other => ColumnSource::Named(other.to_string()),
                };
                columns.push(ResultColumn {
                    header: c.header,
                    from: source,
                });
            }
            let mut status: BTreeMap<String, String> = STATUSES
                .iter()
                .map(|s| (s.to_string(), s.to_string()))
                .collect();
            for (k, word) in f.status {
                if STATUSES.contains(&k.get_ref().as_str()) {
                    status.insert(k.get_ref().clone(), word);
                } else {
                    problems.0.push(at.problem(
                        &k,
                        &key("status"),
                        format!(
                            "\"{}\" is not an item status; expected some of {}",
                            k.get_ref(),
                            STATUSES.join(", ")
                        ),
                    ));
                }
            }
            let mut only = Vec::new();
            for s in f.only {
                if STATUSES.contains(&s.get_ref().as_str()) {
                    only.push(s.get_ref().clone());
                } else {
                    problems.0.push(at.problem(
                        &s,
                        &key("only"),
                        format!(
                            "\"{}\" is not an item status; expected some of {}",
                            s.get_ref(),
                            STATUSES.join(", ")
                        ),
                    ));
                }
            }
            files.push(ResultFile {
                file: name,
                format,
                columns,
                status,
                only,
            });
        }
        files
    }
}
