//! Spreadsheet input and output: read one sheet of a workbook (or a CSV file)
//! into a [`Table`] and write result workbooks from [`OutSheet`]s.
//!
//! This is a capability module: it knows nothing of bots, runs or mail. Bots
//! read their work items from an input workbook with [`read_with`] (`.xlsx`,
//! `.xlsm`, `.xls`, `.xlsb` and `.ods` through calamine; `.csv` with its
//! delimiter and encoding detected) and report what they did in an `.xlsx`
//! workbook written with [`write`] (through rust_xlsxwriter): a bold,
//! frozen, filterable header row, fitted column widths, real dates and
//! numbers, long digit strings as text, hyperlinks (for example to screenshots
//! beside the workbook) and an optional green / amber / red status column.
//!
//! # Reading
//!
//! [`ReadOptions`] choose the sheet (by name or 1-based position), the header
//! row (or let juru find it under a title row), renames of columns, columns
//! that hold dates, a row filter, the columns that must exist and how a CSV
//! file is split and decoded. Columns are addressed by header text, case and
//! surrounding spaces ignored ([`Table::column`]).
//! Below the header, a value merged over several cells counts for each of
//! them (.xls, and .xlsx sheets of up to 20,000 rows).
//!
//! # Limits
//!
//! An input comes from outside, so what reading it may cost is bounded
//! ([`guard`]): a zip container is inspected through its central directory
//! before it is unpacked, an .xls or .ods file's layout is measured before it
//! is built, and cells, rows and columns are counted as they are read.
//!
//! # Blocking
//!
//! Every function here does blocking file I/O and may take a while on a big
//! workbook. Async callers must run it on a blocking thread (for example
//! `tokio::task::spawn_blocking`), never directly on the runtime.
//!
//! # Values
//!
//! A cell is a [`Cell`]. When reading, text is trimmed (unless asked not to;
//! text of only spaces is [`Cell::Empty`]), integral numbers become
//! [`Cell::Int`] (all the digits of an 18-digit number, never `1.99E+17`),
//! date-formatted cells become [`Cell::Date`] or [`Cell::DateTime`] (in the
//! 1900 and the 1904 date systems alike), and digit strings stored as text (a
//! 16-digit NIK) stay [`Cell::Text`]. [`Cell::to_text`] gives the human form
//! used in messages and templates; [`parse_date`] reads dates people type.
//!
//! # Errors
//!
//! Every failure is a [`SheetError`] whose message is a whole sentence naming
//! the file, fit to show to the operator as is:
//!
//! - [`SheetError::NotFound`]: the input workbook does not exist.
//! - [`SheetError::Open`]: the file exists but cannot be read as a workbook
//!   (damaged, password-protected, a web page saved as .xls, not a
//!   spreadsheet, not what its name says (the message says what it looks
//!   like: an image, a PDF, a Word document), unsupported format, text that
//!   is not in its encoding, binary data in a .csv file, or a sheet that
//!   cannot be decoded); the reason says which.
//! - [`SheetError::Refused`]: reading it would cost more than the limits of
//!   [`guard`] allow: a workbook that unpacks to more than 256 MB or far more
//!   than a workbook does (a zip bomb), a sheet of more than 4 million cells,
//!   a cell of more than 1 MB of text, a .csv file of more than 64 MB.
//! - [`SheetError::NoSheet`]: the requested sheet is not in the workbook; the
//!   message lists the sheets that are.
//! - [`SheetError::Empty`]: the sheet has no header row (nothing in it).
//! - [`SheetError::HeaderRow`]: the header row asked for is empty.
//! - [`SheetError::Columns`]: columns the options name (required, dates,
//!   filter) are not in the sheet; the message lists them and the columns that
//!   are there.
//! - [`SheetError::RenameClash`]: two columns would get the same name.
//! - [`SheetError::Write`]: an output workbook could not be written; nothing
//!   was left at the target path.

mod cell;
mod delimited;
pub mod guard;
mod hidden;
mod options;
mod read;
mod shape;
mod table;
mod types;
mod write;
mod xls_guard;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;

pub use cell::{date_from_serial, parse_date, parse_display_date, Cell};
pub use options::{parse_delimiter, CsvOptions, Encoding, ReadOptions, SheetRef};
pub use read::{read, read_with};
pub use shape::{describe_all, Pass, PassedOver};
pub use table::{Row, Table};
pub use types::{parse_number, CellProblem, ColumnType, ValueProblem, TYPE_NAMES};
pub use write::{write, write_with_images, OutImage, OutRow, OutSheet, Tone};

/// What went wrong while reading or writing a workbook. The messages are whole
/// sentences that name the file.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    /// The input workbook does not exist.
    #[error("input workbook {} does not exist", .path.display())]
    NotFound { path: PathBuf },

    /// The file exists but cannot be opened or decoded as a workbook.
    #[error("cannot open workbook {}: {reason}", .path.display())]
    Open { path: PathBuf, reason: String },

    /// Reading the workbook would cost more than [`guard`] allows (a zip bomb,
    /// a sheet of too many cells, a cell of too much text).
    #[error("workbook {} is refused: {reason}", .path.display())]
    Refused { path: PathBuf, reason: String },

    /// The workbook has no such sheet.
    #[error(
        "workbook {} has no sheet {sheet}; {}",
        .path.display(),
        sheet_list(.available)
    )]
    NoSheet {
        path: PathBuf,
        sheet: SheetRef,
        available: Vec<String>,
    },

    /// The sheet has no non-empty cell, so no header row.
    #[error(
        "sheet \"{sheet}\" of workbook {} is empty: expected a header row",
        .path.display()
    )]
    Empty { path: PathBuf, sheet: String },

    /// The header row asked for has nothing in it.
    #[error(
        "row {row} of sheet \"{sheet}\" of workbook {} is empty: expected the header row there",
        .path.display()
    )]
    HeaderRow {
        path: PathBuf,
        sheet: String,
        row: u32,
    },

    /// Columns named in the options are not in the sheet.
    #[error(
        "workbook {} (sheet \"{sheet}\") {}; its columns are {}",
        .path.display(),
        missing_list(.missing),
        quoted(.headers)
    )]
    Columns {
        path: PathBuf,
        sheet: String,
        /// The headers the sheet has (after renaming).
        headers: Vec<String>,
        missing: Vec<MissingColumns>,
    },

    /// Renaming would give two columns the same name.
    #[error(
        "workbook {} (sheet \"{sheet}\"): columns {} would both be called \"{name}\" after renaming; rename only one of them",
        .path.display(),
        quoted(.columns)
    )]
    RenameClash {
        path: PathBuf,
        sheet: String,
        name: String,
        columns: Vec<String>,
    },

    /// `visible_only` was asked for a workbook whose hidden rows juru cannot
    /// tell, or whose hidden rows could not be read.
    #[error("workbook {}: {reason}", .path.display())]
    Hidden { path: PathBuf, reason: String },

    /// The output workbook could not be written.
    #[error("cannot write workbook {}: {reason}", .path.display())]
    Write { path: PathBuf, reason: String },
}

/// Why a column was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnUse {
    Required,
    Dates,
    Filter,
    Types,
}

impl fmt::Display for ColumnUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnUse::Required => "required",
            ColumnUse::Dates => "date",
            ColumnUse::Filter => "filter",
            ColumnUse::Types => "typed",
        })
    }
}

/// Columns asked for one purpose that the sheet lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingColumns {
    pub used_for: ColumnUse,
    pub names: Vec<String>,
}

impl fmt::Display for MissingColumns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lacks the {} column{} {}",
            self.used_for,
            if self.names.len() > 1 { "s" } else { "" },
            quoted(&self.names)
        )
    }
}

/// `"A", "B"`.
pub fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn missing_list(missing: &[MissingColumns]) -> String {
    missing
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(" and ")
}

/// `its sheets are: "A", "B"` for the [`SheetError::NoSheet`] message.
fn sheet_list(available: &[String]) -> String {
    if available.is_empty() {
        return "it has no sheets at all".to_string();
    }
    format!("its sheets are: {}", quoted(available))
}
