//! The value of one spreadsheet cell.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};

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
