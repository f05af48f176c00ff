//! Reading delimited text (.csv, .tsv, .txt) into the same grid as a sheet:
//! decoding (UTF-8 with or without BOM, UTF-16 with BOM, windows-1252),
//! finding the delimiter and giving the values types.

use std::path::Path;

use super::guard::{self, count_text, size_text, MAX_CELLS, MAX_CELL_TEXT, MAX_COLUMNS, MAX_ROWS};
use super::read::{number_cell, text_cell};
use super::table::Grid;
use super::{Cell, Encoding, ReadOptions, SheetError};

/// Delimiters tried when none is set, in order of preference on a tie.
const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
/// How many lines the delimiter detection looks at.
const SAMPLE_LINES: usize = 20;
/// Digits an integer may have and still be a number: more is an identifier
/// (a 16-digit NIK, an 18-digit NIP) and stays text.
const MAX_NUMBER_DIGITS: usize = 15;

/// The sheet name (the file name without extension) and the rows of a CSV file.
pub(super) fn read(path: &Path, options: &ReadOptions) -> Result<(String, Grid), SheetError> {
    let open_err = |reason: String| SheetError::Open {
        path: path.to_path_buf(),
        reason,
    };
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "csv".to_string());
    let refused = |reason: String| SheetError::Refused {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = guard::read_text_file(path).map_err(|e| match e {
        guard::TextFile::Unreadable(reason) => open_err(reason),
        guard::TextFile::TooLarge(reason) => refused(reason),
    })?;
    let utf16 = encoding_is_utf16(&bytes, options.csv.encoding);
    if !utf16 {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        if let Some((offset, line, byte)) = guard::binary_at(body) {
            let bom = bytes.len() - body.len();
            return Err(open_err(binary_message(
                offset + bom + 1,
                line,
                byte,
                guard::binary_count(body),
                bytes.len(),
            )));
        }
    }
    let mut text = decode(&bytes, options.csv.encoding).map_err(open_err)?;
    drop(bytes);
    // Old DOS programs end a text file with Ctrl-Z: no record.
    if text.ends_with('\u{1a}') {
        text.pop();
    }
    if utf16 {
        if let Some((index, line)) = guard::binary_text_at(&text) {
            return Err(open_err(format!(
                "it is binary data, not text: character {} (line {line}) is a control character, which text does not hold; a .csv file must be text, as Excel or LibreOffice save it",
                count_text(index as u64 + 1)
            )));
        }
    }

    // The one sheet of a text file is the file itself.
    if let Some(sheet) = &options.sheet {
        if !matches!(sheet, super::SheetRef::Index(1)) && !is_own_name(sheet, &name) {
            return Err(SheetError::NoSheet {
                path: path.to_path_buf(),
                sheet: sheet.clone(),
                available: vec![name],
            });
        }
    }

    // Excel's "sep=;" first line names the delimiter.
    let (text, skipped, hinted) = match text.split_once('\n') {
        Some((first, rest)) if first.trim_end().starts_with("sep=") => {
            let d = first.trim_end().as_bytes().get(4).copied();
            (rest, 1, d)
        }
        _ => (text.as_str(), 0, None),
    };
    let delimiter = options
        .csv
        .delimiter
        .or(hinted)
        .unwrap_or_else(|| detect(text));

    let records = records(text, delimiter).map_err(|limit| {
        refused(match limit {
            Limit::Text { line, field, len } => format!(
                "value {field} of line {} holds {} of text, more than the {} juru reads from one cell (Excel itself keeps at most 32,767 characters in a cell)",
                line + skipped,
                size_text(len as u64),
                size_text(MAX_CELL_TEXT as u64)
            ),
            Limit::Columns { line } => format!(
                "line {} has more than the {} values juru reads from a row (as Excel has columns)",
                line + skipped,
                count_text(MAX_COLUMNS as u64)
            ),
            Limit::Rows => format!(
                "it has more than the {} rows juru reads (as Excel)",
                count_text(MAX_ROWS as u64)
            ),
            Limit::Cells => format!(
                "it is larger than juru reads: more than {} values; split it into smaller files",
                count_text(MAX_CELLS as u64)
            ),
        })
    })?;
    // Rows are numbered as a spreadsheet shows the file: one row per record
    // (a quoted value over several lines is one row), Excel's "sep=" line
    // not counted.
    let rows = records
        .into_iter()
        .map(|(record, fields)| {
            let number = u32::try_from(record).unwrap_or(u32::MAX);
            let cells = fields.iter().map(|f| value(f, options.trim)).collect();
            (number, cells)
        })
        .collect();
    Ok((
        name,
        Grid {
            rows,
            first_column: 1,
            is_1904: false,
            merged: Vec::new(),
            marks: super::table::Marks::new(),
            text_file: true,
            hidden: Default::default(),
        },
    ))
}

fn is_own_name(sheet: &super::SheetRef, name: &str) -> bool {
    match sheet {
        super::SheetRef::Name(n) => n.trim().eq_ignore_ascii_case(name.trim()),
        super::SheetRef::Index(i) => *i == 1,
    }
}

/// Whether the file is read as UTF-16 (it starts with a UTF-16 byte-order
/// mark and the encoding is detected): its bytes are then not ASCII text.
fn encoding_is_utf16(bytes: &[u8], encoding: Encoding) -> bool {
    encoding == Encoding::Auto && (bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF"))
}

/// The sentence for a text file that holds binary data at `byte` (1-based).
fn binary_message(byte: usize, line: usize, value: u8, controls: usize, total: usize) -> String {
    let what = if value == 0 {
        format!(
            "byte {} (line {line}) is a NUL byte, which text never holds",
            count_text(byte as u64)
        )
    } else {
        format!(
            "{} of its {} bytes are control characters, the first at byte {} (line {line})",
            count_text(controls as u64),
            count_text(total as u64),
            count_text(byte as u64)
        )
    };
    format!("it is binary data, not text: {what}; a .csv file must be text, as Excel or LibreOffice save it")
}

/// The file's text. UTF-8 and UTF-16 byte-order marks are honoured (and
/// removed) under `Auto`; bytes that are not UTF-8 are read as windows-1252.
fn decode(bytes: &[u8], encoding: Encoding) -> Result<String, String> {
    let utf8 = |b: &[u8]| {
        std::str::from_utf8(b).map(str::to_string).map_err(|e| {
            format!(
                "byte {} is not UTF-8 text; if the file comes from Excel on Windows, set the encoding to \"windows-1252\"",
                e.valid_up_to() + 1
            )
        })
    };
    match encoding {
        Encoding::Utf8 => utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)),
        Encoding::Windows1252 => Ok(encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned()),
        Encoding::Auto => {
            if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
                return utf8(rest);
            }
            if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
                let (text, _, bad) = encoding_rs::UTF_16LE.decode(bytes);
                if bad {
                    return Err("it is damaged UTF-16 text".to_string());
                }
                return Ok(text.into_owned());
            }
            match std::str::from_utf8(bytes) {
                Ok(text) => Ok(text.to_string()),
                Err(_) => Ok(encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(bytes)
                    .0
                    .into_owned()),
            }
        }
    }
}

/// The delimiter that splits the first lines into the same number of fields,
/// the most fields winning; without such a one, the most frequent on the first
/// line; a comma when there is nothing to go on.
fn detect(text: &str) -> u8 {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(SAMPLE_LINES)
        .collect();
    let counts: Vec<Vec<usize>> = CANDIDATES
        .iter()
        .map(|d| lines.iter().map(|l| count_outside_quotes(l, *d)).collect())
        .collect();
    let consistent = CANDIDATES
        .iter()
        .zip(&counts)
        .filter(|(_, c)| c.first().is_some_and(|n| *n > 0) && c.iter().all(|n| *n == c[0]))
        .max_by_key(|(d, c)| (c[0], std::cmp::Reverse(position(**d))));
    if let Some((d, _)) = consistent {
        return *d;
    }
    CANDIDATES
        .iter()
        .zip(&counts)
        .filter(|(_, c)| c.first().is_some_and(|n| *n > 0))
        .max_by_key(|(d, c)| (c[0], std::cmp::Reverse(position(**d))))
        .map_or(b',', |(d, _)| *d)
}

fn position(d: u8) -> usize {
    CANDIDATES.iter().position(|c| *c == d).unwrap_or(0)
}

/// The records of the text with their number (1-based, blank lines counted, a
/// value over several lines counted once: the row a spreadsheet shows), as RFC 4180
/// has them: fields split by `delimiter`, records by CR, LF or CR LF, a field
/// in double quotes may hold delimiters, line breaks and doubled quotes. Quotes
/// are forgiven where people put them by hand: a quote inside an unquoted
/// field is a plain character, text after a closing quote is kept. Blank
/// lines are no records. Stops at the limits of [`guard`].
fn records(text: &str, delimiter: u8) -> Result<Vec<(usize, Vec<String>)>, Limit> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let mut values = 0usize;
    let mut record = 0usize;
    while i < bytes.len() {
        let start_line = line;
        record += 1;
        let mut fields = Vec::new();
        let mut field: Vec<u8> = Vec::new();
        loop {
            // One field.
            if bytes.get(i) == Some(&b'"') {
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'"' if bytes.get(i + 1) == Some(&b'"') => {
                            field.push(b'"');
                            i += 2;
                        }
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b => {
                            if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                                line += 1;
                            }
                            field.push(b);
                            i += 1;
                        }
                    }
                }
            }
            while i < bytes.len() && bytes[i] != delimiter && bytes[i] != b'\n' && bytes[i] != b'\r'
            {
                field.push(bytes[i]);
                i += 1;
            }
            if field.len() > MAX_CELL_TEXT {
                return Err(Limit::Text {
                    line: start_line,
                    field: fields.len() + 1,
                    len: field.len(),
                });
            }
            if fields.len() >= MAX_COLUMNS {
                return Err(Limit::Columns { line: start_line });
            }
            values += 1;
            if values > MAX_CELLS {
                return Err(Limit::Cells);
            }
            // Fields were split at ASCII bytes only, so they are whole UTF-8.
            fields.push(String::from_utf8_lossy(&field).into_owned());
            field.clear();
            match bytes.get(i) {
                Some(&b) if b == delimiter => i += 1,
                Some(b'\r') => {
                    i += if bytes.get(i + 1) == Some(&b'\n') {
                        2
                    } else {
                        1
                    };
                    line += 1;
                    break;
                }
                Some(b'\n') => {
                    i += 1;
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        if !(fields.len() == 1 && fields[0].is_empty()) {
            if out.len() >= MAX_ROWS {
                return Err(Limit::Rows);
            }
            out.push((record, fields));
        }
    }
    Ok(out)
}

/// Which limit a text file reached, and where.
#[derive(Debug, PartialEq)]
enum Limit {
    /// A value longer than a cell may hold: its line, its position in the line, its size.
    Text {
        line: usize,
        field: usize,
        len: usize,
    },
    /// A line with more values than a sheet has columns.
    Columns { line: usize },
    /// More records than a sheet has rows.
    Rows,
    /// More values than a sheet may hold.
    Cells,
}

/// Occurrences of `d` in `line` outside double quotes. (A quoted field that
/// spans lines makes its lines count oddly; detection only needs most lines.)
fn count_outside_quotes(line: &str, d: u8) -> usize {
    let mut quoted = false;
    let mut n = 0;
    for b in line.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == d && !quoted {
            n += 1;
        }
    }
    n
}

/// A CSV field as a typed cell. Everything is text in a CSV file, so juru
/// takes only what is clearly meant as a value: whole numbers of up to 15
/// digits without a leading zero, decimals with a point, and TRUE/FALSE.
/// Identifiers (NIK, NIP, phone numbers with a leading 0) stay text; dates
/// become dates only in the columns declared as dates.
fn value(field: &str, trim: bool) -> Cell {
    let t = field.trim();
    if t.is_empty() {
        return Cell::Empty;
    }
    if t.eq_ignore_ascii_case("true") {
        return Cell::Bool(true);
    }
    if t.eq_ignore_ascii_case("false") {
        return Cell::Bool(false);
    }
    let unsigned = t.strip_prefix('-').unwrap_or(t);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let plain_whole = digits(whole) && (whole == "0" || !whole.starts_with('0'));
    let fits = whole.len() + fraction.map_or(0, str::len) <= MAX_NUMBER_DIGITS;
    if plain_whole && fits {
        match fraction {
            None => {
                if let Ok(i) = t.parse::<i64>() {
                    return Cell::Int(i);
                }
            }
            // `875.500` may be 875.5 or 875,500: the column decides (see
            // `table::infer`).
            Some(f) if f.len() == 3 => {}
            Some(f) if digits(f) => {
                if let Ok(x) = t.parse::<f64>() {
                    return number_cell(x);
                }
            }
            Some(_) => {}
        }
    }
    text_cell(field, trim)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn values_get_types_but_identifiers_stay_text() {
        assert_eq!(value("42", true), Cell::Int(42));
        assert_eq!(value("-7", true), Cell::Int(-7));
        assert_eq!(value(" 0 ", true), Cell::Int(0));
        assert_eq!(value("2.5", true), Cell::Float(2.5));
        assert_eq!(value("3.0", true), Cell::Int(3));
        assert_eq!(value("TRUE", true), Cell::Bool(true));
        assert_eq!(value("false", true), Cell::Bool(false));
        for id in [
            "3201010101010001",
            "199001012022011001",
            "08123456789",
            "007",
            "1.234.567",
            "1,5",
            "+6281234",
            "12a",
        ] {
            assert_eq!(value(id, true), Cell::Text(id.into()), "{id}");
        }
        assert_eq!(value("  Ani ", true), Cell::Text("Ani".into()));
        assert_eq!(value("  Ani ", false), Cell::Text("  Ani ".into()));
        assert_eq!(value("   ", false), Cell::Empty);
    }

    #[test]
    fn records_follow_rfc_4180_and_count_rows() {
        let text = "a,\"b,\"\"c\"\"\",d\r\n\r\n\"multi\nline\",x\ny,z\rlast\"q\",\"t\"rest";
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            records(text, b',').unwrap(),
            vec![
                (1, strings(&["a", "b,\"c\"", "d"])),
                (3, strings(&["multi\nline", "x"])),
                (4, strings(&["y", "z"])),
                (5, strings(&["last\"q\"", "trest"])),
            ]
        );
        assert_eq!(
            records("", b',').unwrap(),
            Vec::<(usize, Vec<String>)>::new()
        );
        assert_eq!(
            records("a;;\n", b';').unwrap(),
            vec![(1, strings(&["a", "", ""]))]
        );
    }

    #[test]
    fn delimiter_detection() {
        assert_eq!(detect("a,b,c\n1,2,3\n"), b',');
        assert_eq!(
            detect("NIK;Nama;Alamat\n1;Ani;Jl. A, No 3\n2;Budi;Jl. B, No 4\n"),
            b';'
        );
        assert_eq!(detect("a\tb\n1\t2\n"), b'\t');
        assert_eq!(detect("\"x;y\",b\n\"1;2\",3\n"), b',');
        assert_eq!(detect("NIK\n1\n"), b',');
        assert_eq!(detect("a|b\n1|2\n"), b'|');
    }

    #[test]
    fn decoding() {
        assert_eq!(decode(b"\xEF\xBB\xBFNIK", Encoding::Auto).unwrap(), "NIK");
        assert_eq!(decode(b"Jos\xE9", Encoding::Auto).unwrap(), "José");
        assert_eq!(decode(b"Jos\xC3\xA9", Encoding::Auto).unwrap(), "José");
        assert_eq!(decode(b"\x80", Encoding::Windows1252).unwrap(), "€");
        assert_eq!(
            decode(b"\xFF\xFEN\x00I\x00K\x00", Encoding::Auto).unwrap(),
            "NIK"
        );
        let err = decode(b"ab\xE9", Encoding::Utf8).unwrap_err();
        assert!(err.contains("byte 3"), "{err}");
    }
}
