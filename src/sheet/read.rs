//! Reading one sheet of a workbook into a [`Table`] with calamine.

use std::path::{Path, PathBuf};

use calamine::{Data, Range, Reader, SheetType, SheetVisible};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::{Cell, SheetError};

/// File extensions (lower case) that [`read`] understands.
const SUPPORTED: &[&str] = &["xlsx", "xlsm", "xls", "xlsb", "ods"];

/// Integers up to this magnitude are exact in an `f64`.
const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0; // 2^53

/// One sheet read from a workbook: a header row and the data rows below it.
#[derive(Debug, Clone)]
pub struct Table {
    /// The workbook the table was read from.
    pub path: PathBuf,
    /// The name of the sheet, as the workbook spells it.
    pub sheet: String,
    /// Header texts, trimmed; an empty header cell is `Kolom N` (N = the
    /// 1-based column number in the sheet).
    pub headers: Vec<String>,
    /// The data rows below the header, without the rows that are all empty.
    pub rows: Vec<Row>,
}

/// One data row of a [`Table`].
#[derive(Debug, Clone)]
pub struct Row {
    /// 1-based row number as Excel shows it.
    pub number: u32,
    /// One cell per header, in the same order.
    pub cells: Vec<Cell>,
}

impl Table {
    /// Column index by header text, case-insensitive, surrounding spaces ignored.
    pub fn column(&self, header: &str) -> Option<usize> {
        let wanted = header_key(header);
        self.headers.iter().position(|h| header_key(h) == wanted)
    }

    /// The headers of `required` that the table lacks (same matching rule), in the given order.
    pub fn missing(&self, required: &[String]) -> Vec<String> {
        required
            .iter()
            .filter(|r| self.column(r).is_none())
            .cloned()
            .collect()
    }
}

fn header_key(header: &str) -> String {
    header.trim().to_lowercase()
}

/// Reads a sheet (by name; None = the first sheet) of an .xlsx/.xlsm/.xls/.xlsb/.ods file.
///
/// A sheet name is matched exactly first, then case-insensitively (as Excel
/// does). Without a name the first visible worksheet is read (hidden sheets
/// and chart sheets are passed over unless there is nothing else).
///
/// The header row is the first row with a non-empty cell; columns that are
/// empty from the header row down are left out at both sides.
pub fn read(path: &Path, sheet: Option<&str>) -> Result<Table, SheetError> {
    let open_err = |reason: String| SheetError::Open {
        path: path.to_path_buf(),
        reason,
    };

    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SheetError::NotFound {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(open_err(format!("cannot access the file ({e})"))),
        Ok(meta) if meta.is_dir() => {
            return Err(open_err("it is a folder, not a file".to_string()));
        }
        Ok(_) => {}
    }

    let mut workbook =
        calamine::open_workbook_auto(path).map_err(|e| open_err(open_reason(path, &e)))?;

    let metadata = workbook.sheets_metadata().to_vec();
    let names: Vec<String> = metadata.iter().map(|s| s.name.clone()).collect();
    let name = match sheet {
        Some(wanted) => find_sheet(&names, wanted).ok_or_else(|| SheetError::NoSheet {
            path: path.to_path_buf(),
            sheet: wanted.to_string(),
            available: names.clone(),
        })?,
        None => first_sheet(&metadata)
            .ok_or_else(|| open_err("it contains no worksheets".to_string()))?,
    };

    let range = workbook
        .worksheet_range(&name)
        .map_err(|e| open_err(format!("cannot read sheet \"{name}\" ({e})")))?;

    build_table(path, name, &range)
}

/// Exact name first, then the same name ignoring case and surrounding spaces.
fn find_sheet(names: &[String], wanted: &str) -> Option<String> {
    if let Some(n) = names.iter().find(|n| n.as_str() == wanted) {
        return Some(n.clone());
    }
    let key = header_key(wanted);
    names.iter().find(|n| header_key(n) == key).cloned()
}

/// The first visible worksheet, else the first worksheet, else the first sheet
/// of any kind.
fn first_sheet(metadata: &[calamine::Sheet]) -> Option<String> {
    metadata
        .iter()
        .find(|s| s.typ == SheetType::WorkSheet && s.visible == SheetVisible::Visible)
        .or_else(|| metadata.iter().find(|s| s.typ == SheetType::WorkSheet))
        .or_else(|| metadata.first())
        .map(|s| s.name.clone())
}

/// A short reason for the [`SheetError::Open`] message.
fn open_reason(path: &Path, err: &calamine::Error) -> String {
    use calamine::{Error as E, OdsError, XlsError, XlsxError};

    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let supported_ext = SUPPORTED.contains(&ext.as_str());
    let formats = "supported formats are .xlsx, .xlsm, .xls, .xlsb and .ods";

    match err {
        E::Xlsx(XlsxError::Password) | E::Xls(XlsError::Password) | E::Ods(OdsError::Password) => {
            "it is password-protected; save a copy without a password and use that".to_string()
        }
        E::Io(io) => format!("cannot read the file ({io})"),
        E::Msg(_) if supported_ext => {
            format!("the file is damaged or is not really a .{ext} workbook")
        }
        E::Msg(_) if ext.is_empty() => {
            format!("it is not a workbook in a known format ({formats})")
        }
        E::Msg(_) => format!("files of type .{ext} are not supported ({formats})"),
        other => format!("the file is damaged or is not really a .{ext} workbook ({other})"),
    }
}

fn build_table(path: &Path, sheet: String, range: &Range<Data>) -> Result<Table, SheetError> {
    let empty = || SheetError::Empty {
        path: path.to_path_buf(),
        sheet: sheet.clone(),
    };
    let (start_row, start_col) = range.start().ok_or_else(empty)?;

    let grid: Vec<Vec<Cell>> = range
        .rows()
        .map(|r| r.iter().map(convert).collect())
        .collect();

    let header_at = grid
        .iter()
        .position(|r| r.iter().any(|c| !c.is_empty()))
        .ok_or_else(empty)?;

    // The columns with something in them, from the header row down.
    let mut first_col = usize::MAX;
    let mut last_col = 0;
    for r in &grid[header_at..] {
        for (j, c) in r.iter().enumerate() {
            if !c.is_empty() {
                first_col = first_col.min(j);
                last_col = last_col.max(j);
            }
        }
    }
    if first_col == usize::MAX {
        return Err(empty());
    }

    let cell_at = |r: &[Cell], j: usize| r.get(j).cloned().unwrap_or(Cell::Empty);

    let headers = (first_col..=last_col)
        .map(|j| {
            let text = cell_at(&grid[header_at], j).to_text().trim().to_string();
            if text.is_empty() {
                let column_number = u64::from(start_col) + j as u64 + 1;
                format!("Kolom {column_number}")
            } else {
                text
            }
        })
        .collect();

    let rows = grid
        .iter()
        .enumerate()
        .skip(header_at + 1)
        .filter(|(_, r)| r.iter().any(|c| !c.is_empty()))
        .map(|(i, r)| Row {
            number: u32::try_from(i)
                .unwrap_or(u32::MAX)
                .saturating_add(start_row)
                .saturating_add(1),
            cells: (first_col..=last_col).map(|j| cell_at(r, j)).collect(),
        })
        .collect();

    Ok(Table {
        path: path.to_path_buf(),
        sheet,
        headers,
        rows,
    })
}

/// One calamine value as a [`Cell`].
fn convert(data: &Data) -> Cell {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) => text_cell(s),
        Data::Int(i) => Cell::Int(*i),
        Data::Float(x) => number_cell(*x),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) => excel_datetime_cell(dt),
        Data::DateTimeIso(s) => iso_cell(s),
        Data::DurationIso(s) => text_cell(s),
        Data::Error(e) => Cell::Text(e.to_string()),
    }
}

fn text_cell(s: &str) -> Cell {
    let t = s.trim();
    if t.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(t.to_string())
    }
}

fn number_cell(x: f64) -> Cell {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < MAX_EXACT_INT {
        // Exact: |x| < 2^53 and integral.
        Cell::Int(x as i64)
    } else {
        Cell::Float(x)
    }
}

/// A date-formatted number: a date, a date and time, or (below one day, or
/// with a duration format like `[h]:mm`) a time of day or duration, which has
/// no [`Cell`] kind of its own and becomes text like "08:30:00".
fn excel_datetime_cell(dt: &calamine::ExcelDateTime) -> Cell {
    let serial = dt.as_f64();
    if dt.is_duration() || (0.0..1.0).contains(&serial) {
        return Cell::Text(clock_text(serial));
    }
    match dt.as_datetime() {
        Some(value) => datetime_cell(value),
        None => number_cell(serial),
    }
}

fn datetime_cell(value: NaiveDateTime) -> Cell {
    if value.time() == NaiveTime::MIN {
        Cell::Date(value.date())
    } else {
        Cell::DateTime(value)
    }
}

/// A fraction of days as "HH:MM:SS" (hours may pass 24 for durations).
fn clock_text(days: f64) -> String {
    let total = (days * 86_400.0).round();
    let sign = if total < 0.0 { "-" } else { "" };
    let total = total.abs() as u64;
    format!(
        "{sign}{:02}:{:02}:{:02}",
        total / 3600,
        (total / 60) % 60,
        total % 60
    )
}

/// ISO 8601 dates and times, as OpenDocument files store them.
fn iso_cell(s: &str) -> Cell {
    let t = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Cell::Date(d);
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, format) {
            return datetime_cell(dt);
        }
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return datetime_cell(dt.naive_local());
    }
    if let Ok(time) = NaiveTime::parse_from_str(t, "%H:%M:%S%.f") {
        return Cell::Text(format!(
            "{:02}:{:02}:{:02}",
            time.hour(),
            time.minute(),
            time.second()
        ));
    }
    text_cell(t)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn numbers_become_int_when_exact() {
        assert_eq!(number_cell(42.0), Cell::Int(42));
        assert_eq!(number_cell(-0.0), Cell::Int(0));
        assert_eq!(number_cell(2.5), Cell::Float(2.5));
        assert_eq!(number_cell(1e300), Cell::Float(1e300));
        assert_eq!(
            number_cell(9_007_199_254_740_991.0),
            Cell::Int(9_007_199_254_740_991)
        );
        assert_eq!(
            number_cell(9_007_199_254_740_992.0),
            Cell::Float(9_007_199_254_740_992.0)
        );
        assert!(matches!(number_cell(f64::NAN), Cell::Float(_)));
    }

    #[test]
    fn iso_strings_parse() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        assert_eq!(iso_cell("2024-03-01"), Cell::Date(d));
        assert_eq!(
            iso_cell("2024-03-01T00:00:00"),
            Cell::Date(d),
            "midnight is a plain date"
        );
        assert_eq!(
            iso_cell("2024-03-01T08:30:15"),
            Cell::DateTime(d.and_hms_opt(8, 30, 15).unwrap())
        );
        assert_eq!(
            iso_cell("2024-03-01T08:30:15.250"),
            Cell::DateTime(d.and_hms_milli_opt(8, 30, 15, 250).unwrap())
        );
        assert_eq!(iso_cell("08:30:00"), Cell::Text("08:30:00".into()));
        assert_eq!(iso_cell("soon"), Cell::Text("soon".into()));
    }

    #[test]
    fn clock_text_formats_times_and_durations() {
        assert_eq!(clock_text(0.5), "12:00:00");
        assert_eq!(clock_text(1.5), "36:00:00");
        assert_eq!(clock_text(0.0), "00:00:00");
    }

    #[test]
    fn errors_and_text_convert() {
        assert_eq!(
            convert(&Data::Error(calamine::CellErrorType::NA)),
            Cell::Text("#N/A".into())
        );
        assert_eq!(
            convert(&Data::String("  3201010101010001 ".into())),
            Cell::Text("3201010101010001".into())
        );
        assert_eq!(convert(&Data::String("   ".into())), Cell::Empty);
        assert_eq!(convert(&Data::Int(7)), Cell::Int(7));
    }
}
