//! The value of one spreadsheet cell.

use std::fmt;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

/// The value of one cell, as read from or written to a workbook.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value.
    Empty,
    /// Text (trimmed when read).
    Text(String),
    /// A whole number.
    Int(i64),
    /// A number with a fractional part (or too big to be an exact integer).
    Float(f64),
    /// TRUE or FALSE.
    Bool(bool),
    /// A date-formatted cell without a time of day.
    Date(NaiveDate),
    /// A date-formatted cell with a time of day.
    DateTime(NaiveDateTime),
    /// Only for writing: a hyperlink (relative path like "screenshots/item-3.png" or a URL) shown as `text`.
    Link { target: String, text: String },
}

impl Cell {
    /// True for [`Cell::Empty`] and for text that is empty or only spaces.
    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// Human text: Text as is; Int as digits; Float without a trailing ".0" when integral, else shortest repr;
    /// Bool "TRUE"/"FALSE"; Date "dd/mm/yyyy"; DateTime "dd/mm/yyyy HH:MM:SS"; Link its text; Empty "".
    ///
    /// A link whose text is empty gives its target, which is what a workbook shows for it.
    pub fn to_text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(x) => float_text(*x),
            Cell::Bool(true) => "TRUE".to_string(),
            Cell::Bool(false) => "FALSE".to_string(),
            Cell::Date(d) => d.format("%d/%m/%Y").to_string(),
            Cell::DateTime(dt) => dt.format("%d/%m/%Y %H:%M:%S").to_string(),
            Cell::Link { target, text } => {
                if text.is_empty() {
                    target.clone()
                } else {
                    text.clone()
                }
            }
        }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.to_text())
    }
}

/// Rust's `Display` for `f64` already prints the shortest text that reads back
/// as the same number and drops a trailing ".0" ("2", "0.1", "2.5"); only the
/// negative zero needs care.
fn float_text(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else {
        x.to_string()
    }
}

/// Month names people write in dates, Indonesian and English, full and short.
const MONTHS: &[(&str, u32)] = &[
    ("januari", 1),
    ("january", 1),
    ("jan", 1),
    ("februari", 2),
    ("february", 2),
    ("pebruari", 2),
    ("feb", 2),
    ("peb", 2),
    ("maret", 3),
    ("march", 3),
    ("mar", 3),
    ("april", 4),
    ("apr", 4),
    ("mei", 5),
    ("may", 5),
    ("juni", 6),
    ("june", 6),
    ("jun", 6),
    ("juli", 7),
    ("july", 7),
    ("jul", 7),
    ("agustus", 8),
    ("august", 8),
    ("agu", 8),
    ("agt", 8),
    ("aug", 8),
    ("september", 9),
    ("sept", 9),
    ("sep", 9),
    ("oktober", 10),
    ("october", 10),
    ("okt", 10),
    ("oct", 10),
    ("november", 11),
    ("nopember", 11),
    ("nov", 11),
    ("desember", 12),
    ("december", 12),
    ("des", 12),
    ("dec", 12),
];

/// A date written as text, the way people in Indonesia write it: day first
/// (`31/12/2024`, `31-12-2024`, `31.12.2024`, `1/2/2024`), ISO (`2024-12-31`),
/// or with a month name (`31 Desember 2024`, `1 Jan 2024`); each optionally
/// followed by a time of day (`08:30` or `08:30:15`). Years have four digits.
///
/// Returns [`Cell::Date`] (or [`Cell::DateTime`] when a time other than
/// midnight is given), or `None` when the text is not such a date.
pub fn parse_date(text: &str) -> Option<Cell> {
    let text = text.trim();
    let (date_part, time_part) = split_time(text);
    let date = day_first(date_part)
        .or_else(|| iso(date_part))
        .or_else(|| with_month_name(date_part))?;
    let time = match time_part {
        None => NaiveTime::MIN,
        Some(t) => clock(t)?,
    };
    Some(date_cell(date.and_time(time)))
}

/// Exactly the forms [`Cell::to_text`] gives dates: `dd/mm/yyyy` and
/// `dd/mm/yyyy HH:MM:SS`. Scripts see dates this way, so text of this form
/// written to a workbook becomes a date again.
pub fn parse_display_date(text: &str) -> Option<Cell> {
    let b = text.as_bytes();
    let shape_ok = |n: usize| {
        b.len() == n
            && b.iter().enumerate().all(|(i, c)| match i {
                2 | 5 => *c == b'/',
                10 => *c == b' ',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            })
    };
    if shape_ok(10) {
        NaiveDate::parse_from_str(text, "%d/%m/%Y")
            .ok()
            .map(Cell::Date)
    } else if shape_ok(19) {
        NaiveDateTime::parse_from_str(text, "%d/%m/%Y %H:%M:%S")
            .ok()
            .map(date_cell)
    } else {
        None
    }
}

/// An Excel day number (serial) as a date: 1 is 1 January 1900 (with Excel's
/// make-believe 29 February 1900 as 60), or 1 January 1904 is 0 in a workbook
/// that uses the 1904 date system. A fraction is the time of day. `None` for
/// numbers outside 1900..=9999.
pub fn date_from_serial(serial: f64, is_1904: bool) -> Option<Cell> {
    if !serial.is_finite() || serial < if is_1904 { 0.0 } else { 1.0 } {
        return None;
    }
    let (epoch, days) = if is_1904 {
        (NaiveDate::from_ymd_opt(1904, 1, 1)?, serial)
    } else if serial < 60.0 {
        (NaiveDate::from_ymd_opt(1899, 12, 31)?, serial)
    } else if serial < 61.0 {
        // Excel's 29/02/1900 does not exist; it is the day after 28/02/1900.
        (NaiveDate::from_ymd_opt(1899, 12, 31)?, serial - 1.0)
    } else {
        (NaiveDate::from_ymd_opt(1899, 12, 30)?, serial)
    };
    let millis = (days * 86_400_000.0).round();
    if millis > 3_000_000.0 * 86_400_000.0 {
        return None;
    }
    let at = epoch.and_time(NaiveTime::MIN) + Duration::milliseconds(millis as i64);
    if at.date() > NaiveDate::from_ymd_opt(9999, 12, 31)? {
        return None;
    }
    Some(date_cell(at))
}

/// A date at midnight is a [`Cell::Date`]; any other time a [`Cell::DateTime`].
pub(super) fn date_cell(at: NaiveDateTime) -> Cell {
    if at.time() == NaiveTime::MIN {
        Cell::Date(at.date())
    } else {
        Cell::DateTime(at)
    }
}

/// `("31/12/2024", Some("08:30"))` from `"31/12/2024 08:30"` (also `T` between).
fn split_time(text: &str) -> (&str, Option<&str>) {
    if let Some((d, t)) = text.split_once('T') {
        if d.len() == 10 && t.contains(':') {
            return (d, Some(t));
        }
    }
    match text.rsplit_once(' ') {
        Some((d, t)) if t.contains(':') => (d.trim_end(), Some(t)),
        _ => (text, None),
    }
}

fn numbers(text: &str, separator: char) -> Option<Vec<u32>> {
    let parts: Vec<&str> = text.split(separator).collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty() || p.len() > 4) {
        return None;
    }
    parts
        .iter()
        .map(|p| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse().ok()
            } else {
                None
            }
        })
        .collect()
}

fn day_first(text: &str) -> Option<NaiveDate> {
    let separator = ['/', '-', '.'].into_iter().find(|s| text.contains(*s))?;
    let n = numbers(text, separator)?;
    let year_digits = text.rsplit(separator).next()?.len();
    if year_digits != 4 || n[0] > 31 {
        return None;
    }
    NaiveDate::from_ymd_opt(n[2] as i32, n[1], n[0])
}

fn iso(text: &str) -> Option<NaiveDate> {
    let separator = ['-', '/'].into_iter().find(|s| text.contains(*s))?;
    let n = numbers(text, separator)?;
    if text.split(separator).next()?.len() != 4 {
        return None;
    }
    NaiveDate::from_ymd_opt(n[0] as i32, n[1], n[2])
}

fn with_month_name(text: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = text
        .split([' ', '-', ','])
        .filter(|p| !p.is_empty())
        .collect();
    let [day, month, year] = parts.as_slice() else {
        return None;
    };
    let month = month.trim_end_matches('.').to_lowercase();
    let month = MONTHS.iter().find(|(name, _)| *name == month)?.1;
    if year.len() != 4 || day.len() > 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(year.parse().ok()?, month, day.parse().ok()?)
}

fn clock(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    NaiveTime::parse_from_str(text, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
        .ok()
}
