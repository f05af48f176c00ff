//! How to read a workbook: which sheet, where the header is, which columns are
//! renamed, hold dates, must exist or select the rows; and how to decode a CSV file.

use std::fmt;

/// Which sheet of a workbook to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SheetRef {
    /// By name: exact first, then ignoring case and surrounding spaces.
    Name(String),
    /// By position, 1-based, counting every sheet as the workbook lists them.
    Index(usize),
}

impl fmt::Display for SheetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SheetRef::Name(n) => write!(f, "\"{n}\""),
            SheetRef::Index(i) => write!(f, "{i}"),
        }
    }
}

/// The character encoding of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8 (with or without a byte-order mark) when the bytes are valid UTF-8,
    /// UTF-16 when the file starts with a UTF-16 byte-order mark, else
    /// windows-1252 (what Excel on Windows writes for "CSV").
    #[default]
    Auto,
    /// UTF-8 only; invalid bytes are an error.
    Utf8,
    /// windows-1252 (a superset of latin-1).
    Windows1252,
}

impl Encoding {
    /// Parses `auto`, `utf-8` (`utf8`) or `windows-1252` (`cp1252`, `latin1`),
    /// ignoring case.
    pub fn parse(text: &str) -> Result<Encoding, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Encoding::Auto),
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "windows-1252" | "cp1252" | "latin1" | "latin-1" | "iso-8859-1" => {
                Ok(Encoding::Windows1252)
            }
            _ => Err(format!(
                "\"{text}\" is not an encoding juru reads; expected \"auto\", \"utf-8\" or \"windows-1252\""
            )),
        }
    }
}

/// How a CSV file is split and decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CsvOptions {
    /// The field separator; `None` detects `,`, `;`, tab or `|` from the file.
    pub delimiter: Option<u8>,
    pub encoding: Encoding,
}

/// Parses a CSV delimiter: one of `,` `;` `|` or a tab (also the words
/// `comma`, `semicolon`, `tab`, `pipe`), or `auto` for `None`.
pub fn parse_delimiter(text: &str) -> Result<Option<u8>, String> {
    match text {
        "," => return Ok(Some(b',')),
        ";" => return Ok(Some(b';')),
        "\t" => return Ok(Some(b'\t')),
        "|" => return Ok(Some(b'|')),
        _ => {}
    }
    match text.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(None),
        "comma" => Ok(Some(b',')),
        "semicolon" => Ok(Some(b';')),
        "tab" | "\\t" => Ok(Some(b'\t')),
        "pipe" => Ok(Some(b'|')),
        _ => Err(format!(
            "\"{}\" is not a delimiter juru splits on; expected \",\", \";\", \"\\t\" (tab), \"|\" or \"auto\"",
            text.escape_debug()
        )),
    }
}

/// What to read and how. The default reads the first visible sheet, finds the
/// header row by itself, trims text and keeps every non-blank row.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOptions {
    /// The sheet; `None` = the first visible worksheet. Ignored for CSV files,
    /// which have one sheet only (index 1 is accepted).
    pub sheet: Option<SheetRef>,
    /// The 1-based row number of the header row as Excel shows it; `None` =
    /// found automatically (see [`read`](super::read)).
    pub header_row: Option<u32>,
    /// Trim spaces around text values (header texts are always trimmed).
    pub trim: bool,
    /// `(header in the file, name to use)`: a column is renamed when the file
    /// has it; several file headers may map to one name (different offices
    /// spell a column differently), but at most one of them may be present.
    pub rename: Vec<(String, String)>,
    /// Columns (by their names after renaming) that hold dates: text such as
    /// `31/12/2024` and plain day numbers become dates there.
    pub dates: Vec<String>,
    /// Keep only the rows whose cell in the column (after renaming) equals
    /// one of the values (case and surrounding spaces ignored); several
    /// columns must all match.
    pub filter: Vec<(String, Vec<String>)>,
    /// Columns (after renaming) that must exist.
    pub required: Vec<String>,
    /// Declared column types (after renaming): values are normalised and
    /// checked; a value that fails is a problem of its row.
    pub columns: Vec<(String, super::ColumnType)>,
    /// Pass over the rows hidden by a filter or by hand (.xlsx, .xlsm and
    /// .ods workbooks; a .csv file hides nothing; other formats are refused).
    pub visible_only: bool,
    pub csv: CsvOptions,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            sheet: None,
            header_row: None,
            trim: true,
            rename: Vec::new(),
            dates: Vec::new(),
            filter: Vec::new(),
            required: Vec::new(),
            columns: Vec::new(),
            visible_only: false,
            csv: CsvOptions::default(),
        }
    }
}

impl ReadOptions {
    /// Options that read the sheet `name` and change nothing else.
    pub fn sheet(name: &str) -> ReadOptions {
        ReadOptions {
            sheet: Some(SheetRef::Name(name.to_string())),
            ..ReadOptions::default()
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn delimiters_and_encodings_parse() {
        assert_eq!(parse_delimiter(";"), Ok(Some(b';')));
        assert_eq!(parse_delimiter("\t"), Ok(Some(b'\t')));
        assert_eq!(parse_delimiter("Tab"), Ok(Some(b'\t')));
        assert_eq!(parse_delimiter("auto"), Ok(None));
        let err = parse_delimiter("::").unwrap_err();
        assert!(err.contains("\"::\" is not a delimiter"), "{err}");
        assert_eq!(Encoding::parse("UTF-8"), Ok(Encoding::Utf8));
        assert_eq!(Encoding::parse("cp1252"), Ok(Encoding::Windows1252));
        assert!(Encoding::parse("ebcdic")
            .unwrap_err()
            .contains("expected \"auto\", \"utf-8\" or \"windows-1252\""));
    }
}
