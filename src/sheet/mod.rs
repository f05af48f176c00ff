//! Spreadsheet input and output: read one sheet of a workbook into a [`Table`]
//! and write result workbooks from [`OutSheet`]s.
//!
//! This is a capability module: it knows nothing of bots, runs or mail. Bots
//! read their work items from an input workbook with [`read`] (`.xlsx`,
//! `.xlsm`, `.xls`, `.xlsb` and `.ods`, through calamine) and report what they
//! did in an `.xlsx` workbook written with [`write`] (through rust_xlsxwriter):
//! a bold, frozen, filterable header row, fitted column widths, real dates and
//! numbers, hyperlinks (for example to screenshots beside the workbook) and an
//! optional green / amber / red status column.
//!
//! # Blocking
//!
//! Every function here does blocking file I/O and may take a while on a big
//! workbook. Async callers must run it on a blocking thread (for example
//! `tokio::task::spawn_blocking`), never directly on the runtime.
//!
//! # Values
//!
//! A cell is a [`Cell`]. When reading, text is trimmed (text of only spaces is
//! [`Cell::Empty`]), integral numbers become [`Cell::Int`], date-formatted cells
//! become [`Cell::Date`] or [`Cell::DateTime`], and long digit strings stored as
//! text (a 16-digit NIK) stay [`Cell::Text`]. [`Cell::to_text`] gives the
//! human form used in messages and templates.
//!
//! # Errors
//!
//! Every failure is a [`SheetError`] whose message is a whole sentence naming
//! the file, fit to show to the operator as is:
//!
//! - [`SheetError::NotFound`]: the input workbook does not exist.
//! - [`SheetError::Open`]: the file exists but cannot be read as a workbook
//!   (damaged, password-protected, not a spreadsheet, unsupported format, or a
//!   sheet that cannot be decoded); the reason says which.
//! - [`SheetError::NoSheet`]: the requested sheet is not in the workbook; the
//!   message lists the sheets that are.
//! - [`SheetError::Empty`]: the sheet has no header row (nothing in it).
//! - [`SheetError::Write`]: an output workbook could not be written; nothing
//!   was left at the target path.

mod cell;
mod read;
mod write;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use cell::Cell;
pub use read::{read, Row, Table};
pub use write::{write, OutRow, OutSheet, Tone};

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

    /// The workbook has no sheet of that name.
    #[error(
        "workbook {} has no sheet \"{sheet}\"; {}",
        .path.display(),
        sheet_list(.available)
    )]
    NoSheet {
        path: PathBuf,
        sheet: String,
        available: Vec<String>,
    },

    /// The sheet has no non-empty cell, so no header row.
    #[error(
        "sheet \"{sheet}\" of workbook {} is empty: expected a header row",
        .path.display()
    )]
    Empty { path: PathBuf, sheet: String },

    /// The output workbook could not be written.
    #[error("cannot write workbook {}: {reason}", .path.display())]
    Write { path: PathBuf, reason: String },
}

/// `its sheets are: "A", "B"` for the [`SheetError::NoSheet`] message.
fn sheet_list(available: &[String]) -> String {
    if available.is_empty() {
        return "it has no sheets at all".to_string();
    }
    let names: Vec<String> = available.iter().map(|s| format!("\"{s}\"")).collect();
    format!("its sheets are: {}", names.join(", "))
}
