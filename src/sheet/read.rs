//! Reading one sheet of a workbook (calamine) or a CSV file into a [`Table`].

use std::fs::File;
use std::io::Read as _;
use std::path::Path;

use calamine::{Data, DataRef, Range, Reader, SheetType, SheetVisible, Sheets};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::cell::date_cell;
use super::guard::{self, count_text, size_text, MAX_CELLS, MAX_CELL_TEXT, MAX_COLUMNS, MAX_ROWS};
use super::table::{build, header_key, Grid, Mark, Marks, Table};
use super::{delimited, xls_guard, Cell, ReadOptions, SheetError, SheetRef};

/// File extensions (lower case) read as workbooks.
const WORKBOOKS: &[&str] = &["xlsx", "xlsm", "xls", "xlsb", "ods"];
/// File extensions (lower case) read as delimited text.
const TEXT_TABLES: &[&str] = &["csv", "tsv", "txt"];
const FORMATS: &str = "supported formats are .xlsx, .xlsm, .xls, .xlsb, .ods and .csv";

/// Merged cells are looked for in .xlsx sheets up to this many rows: finding
/// them means reading the sheet's XML once more, and merged cells are a thing
/// of hand-made forms, not of big exports. (.xls files list them anyway.)
const MERGES_UP_TO_ROWS: usize = 20_000;

/// Integral numbers with fewer digits than this (Excel keeps 15 significant
/// digits) are amounts and become [`Cell::Int`]; with 16 digits or more they
/// are identifiers typed as numbers (a NIK, a NIP) and become their digits as
/// text.
const IDENTIFIER_FROM: f64 = 1e15;
/// Integral numbers up to this magnitude still print as plain digits.
const IDENTIFIER_UP_TO: f64 = 1e21;

/// Reads a sheet (by name; `None` = the first sheet) with default options:
/// the header row found automatically, text trimmed, blank rows skipped.
pub fn read(path: &Path, sheet: Option<&str>) -> Result<Table, SheetError> {
    let options = match sheet {
        Some(name) => ReadOptions::sheet(name),
        None => ReadOptions::default(),
    };
    read_with(path, &options)
}

/// Reads one sheet of an .xlsx/.xlsm/.xls/.xlsb/.ods workbook, or a .csv
/// (.tsv, .txt) file, as `options` say.
///
/// The format is taken from the file's content, the extension only breaks
/// ties: a workbook saved under the wrong extension is still read, and a
/// web page saved as ".xls" (what many web systems export) gets a message
/// saying so.
///
/// Without `options.sheet`, the first visible worksheet is read (hidden and
/// chart sheets are passed over unless there is nothing else). A sheet name
/// is matched exactly first, then ignoring case and surrounding spaces (as
/// Excel does).
///
/// Without `options.header_row`, the header is the first of the top rows
/// that is filled across at least two thirds of the table's width and is
/// mostly text, so a title row (merged or not) above it is passed over; when
/// no row looks like that, the first non-blank row. Columns empty from the
/// header row down are left out at both sides; blank rows are skipped.
pub fn read_with(path: &Path, options: &ReadOptions) -> Result<Table, SheetError> {
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
    let ext = extension(path);
    let head = first_bytes(path).map_err(|e| open_err(format!("cannot read the file ({e})")))?;
    let refused = |reason: String| SheetError::Refused {
        path: path.to_path_buf(),
        reason,
    };
    match sniff(&head) {
        Content::Zip => {
            // Inspect the container before any reader unpacks it.
            let container = guard::check_zip(path, &ext).map_err(|problem| match problem {
                guard::ZipProblem::Open(reason) => open_err(reason),
                guard::ZipProblem::Refused(reason) => refused(reason),
            })?;
            if container == guard::Container::OpenDocument {
                guard::check_ods(path).map_err(refused)?;
            }
            read_workbook(path, &ext, options)
        }
        Content::Ole => {
            xls_guard::check(path).map_err(refused)?;
            read_workbook(path, &ext, options)
        }
        Content::Html => Err(open_err(format!(
            "it is not {} (it looks like {}{}); open it in Excel or LibreOffice and save it as .xlsx",
            claimed(&ext),
            guard::looks_like(&head).unwrap_or("an HTML web page"),
            if WORKBOOKS.contains(&ext.as_str()) {
                ", as web systems export them"
            } else {
                ""
            }
        ))),
        Content::Other if head.is_empty() => Err(open_err(
            "it is empty (0 bytes); the file was not saved or not copied whole".to_string(),
        )),
        Content::Other if TEXT_TABLES.contains(&ext.as_str()) => {
            match guard::looks_like(&head) {
                Some(what) if what != "text" => Err(open_err(format!(
                    "it is not {} (it looks like {what})",
                    claimed(&ext)
                ))),
                _ => {
                    let (sheet, grid) = delimited::read(path, options)?;
                    build(path, sheet, grid, options)
                }
            }
        }
        Content::Other if WORKBOOKS.contains(&ext.as_str()) => Err(open_err(
            match guard::looks_like(&head) {
                Some("text") => format!(
                    "it is not {} (it looks like text; if it is a CSV file, name it .csv)",
                    claimed(&ext)
                ),
                Some(what) => format!("it is not {} (it looks like {what})", claimed(&ext)),
                None => format!(
                    "it is not {}: the file is damaged or of another kind",
                    claimed(&ext)
                ),
            },
        )),
        Content::Other if ext.is_empty() => Err(open_err(format!(
            "it is not a workbook in a known format ({FORMATS})"
        ))),
        Content::Other => Err(open_err(format!(
            "files of type .{ext} are not supported ({FORMATS})"
        ))),
    }
}

/// What the file's name says it is: `"an xlsx workbook"`, `"a csv file"`, `"a workbook"`.
fn claimed(ext: &str) -> String {
    if WORKBOOKS.contains(&ext) || TEXT_TABLES.contains(&ext) {
        guard::expected_kind(ext)
    } else {
        "a workbook".to_string()
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

fn first_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    File::open(path)?.take(512).read_to_end(&mut head)?;
    Ok(head)
}

/// What a file is, by its first bytes.
#[derive(Debug, PartialEq)]
enum Content {
    /// A zip archive: .xlsx, .xlsm, .xlsb or .ods.
    Zip,
    /// An OLE compound file: .xls, or a password-protected Office file.
    Ole,
    /// HTML or XML text.
    Html,
    Other,
}

fn sniff(head: &[u8]) -> Content {
    if head.starts_with(b"PK\x03\x04") {
        return Content::Zip;
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Content::Ole;
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| &text[i..]) {
        Some(rest) if rest.first() == Some(&b'<') => {
            let lower = rest.to_ascii_lowercase();
            let markup = [&b"<html"[..], b"<!doctype", b"<?xml", b"<table", b"<head"];
            if markup.iter().any(|m| lower.starts_with(m)) {
                Content::Html
            } else {
                Content::Other
            }
        }
        _ => Content::Other,
    }
}

type Book = Sheets<std::io::BufReader<File>>;

/// Opens the workbook with the reader its extension names, else (the
/// extension is not a workbook's, or lies) with each reader in turn.
fn open(path: &Path, ext: &str) -> Result<Book, SheetError> {
    let open_err = |reason: String| SheetError::Open {
        path: path.to_path_buf(),
        reason,
    };
    let mut order: Vec<&str> = Vec::with_capacity(5);
    if WORKBOOKS.contains(&ext) {
        order.push(ext);
    }
    order.extend(["xlsx", "xls", "xlsb", "ods"].iter().filter(|e| **e != ext));
    let mut by_extension = None;
    for reader in order {
        match open_as(path, reader) {
            Ok(book) => return Ok(book),
            Err(e) if is_password(&e) => return Err(open_err(open_reason(ext, &e))),
            Err(e) if reader == ext => by_extension = Some(e),
            Err(_) => {}
        }
    }
    Err(open_err(match by_extension {
        Some(e) => open_reason(ext, &e),
        None => format!("it is not a workbook in a known format ({FORMATS})"),
    }))
}

fn open_as(path: &Path, ext: &str) -> Result<Book, calamine::Error> {
    use calamine::{open_workbook, Error};
    Ok(match ext {
        "xls" => Sheets::Xls(open_workbook(path).map_err(Error::Xls)?),
        "xlsb" => Sheets::Xlsb(open_workbook(path).map_err(Error::Xlsb)?),
        "ods" => Sheets::Ods(open_workbook(path).map_err(Error::Ods)?),
        _ => Sheets::Xlsx(open_workbook(path).map_err(Error::Xlsx)?),
    })
}

fn is_password(err: &calamine::Error) -> bool {
    use calamine::{Error as E, OdsError, XlsError, XlsbError, XlsxError};
    matches!(
        err,
        E::Xlsx(XlsxError::Password)
            | E::Xls(XlsError::Password)
            | E::Xlsb(XlsbError::Password)
            | E::Ods(OdsError::Password)
    )
}

/// A short reason for the [`SheetError::Open`] message.
fn open_reason(ext: &str, err: &calamine::Error) -> String {
    if is_password(err) {
        return "it is password-protected; save a copy without a password and use that".to_string();
    }
    match err {
        calamine::Error::Io(io) => format!("cannot read the file ({io})"),
        other => format!("the file is damaged or is not really a .{ext} workbook ({other})"),
    }
}

fn read_workbook(path: &Path, ext: &str, options: &ReadOptions) -> Result<Table, SheetError> {
    let open_err = |reason: String| SheetError::Open {
        path: path.to_path_buf(),
        reason,
    };
    let mut book = open(path, ext)?;
    let metadata = book.sheets_metadata().to_vec();
    let names: Vec<String> = metadata.iter().map(|s| s.name.clone()).collect();
    let name = match &options.sheet {
        Some(SheetRef::Name(wanted)) => {
            find_sheet(&names, wanted).ok_or_else(|| SheetError::NoSheet {
                path: path.to_path_buf(),
                sheet: SheetRef::Name(wanted.clone()),
                available: names.clone(),
            })?
        }
        Some(SheetRef::Index(i)) => {
            names
                .get(i.wrapping_sub(1))
                .cloned()
                .ok_or_else(|| SheetError::NoSheet {
                    path: path.to_path_buf(),
                    sheet: SheetRef::Index(*i),
                    available: names.clone(),
                })?
        }
        None => first_sheet(&metadata)
            .ok_or_else(|| open_err("it contains no worksheets".to_string()))?,
    };
    let is_1904 = match &book {
        Sheets::Xlsx(b) => b.has_1904_epoch(),
        Sheets::Xls(b) => b.has_1904_epoch(),
        Sheets::Xlsb(b) => b.has_1904_epoch(),
        Sheets::Ods(_) => false,
    };
    let stopped = |stop: Stop| match stop {
        Stop::Limit(reason) => SheetError::Refused {
            path: path.to_path_buf(),
            reason,
        },
        Stop::Reader(e) => open_err(format!("cannot read sheet \"{name}\" ({e})")),
    };
    let (mut grid, merged) = match &mut book {
        Sheets::Xlsx(b) => {
            let mut collect = Collect::new(&name, options.trim);
            {
                let mut reader = b
                    .worksheet_cells_reader(&name)
                    .map_err(|e| stopped(Stop::Reader(e.to_string())))?;
                while let Some(cell) = reader
                    .next_cell_with_formula_metadata()
                    .map_err(|e| stopped(Stop::Reader(e.to_string())))?
                {
                    let (r, c) = cell.pos;
                    collect
                        .add(r, c, &cell.value, cell.formula.is_some())
                        .map_err(stopped)?;
                }
            }
            let grid = collect.finish(is_1904);
            let merged = if grid.rows.len() <= MERGES_UP_TO_ROWS {
                b.merge_cells_by_sheet_name(&name).ok()
            } else {
                None
            };
            (grid, merged)
        }
        Sheets::Xlsb(b) => {
            let mut collect = Collect::new(&name, options.trim);
            {
                let mut reader = b
                    .worksheet_cells_reader(&name)
                    .map_err(|e| stopped(Stop::Reader(e.to_string())))?;
                while let Some(cell) = reader
                    .next_cell()
                    .map_err(|e| stopped(Stop::Reader(e.to_string())))?
                {
                    let (r, c) = cell.get_position();
                    collect
                        .add(r, c, cell.get_value(), false)
                        .map_err(stopped)?;
                }
            }
            (collect.finish(is_1904), None)
        }
        other => {
            let range = other
                .worksheet_range(&name)
                .map_err(|e| stopped(Stop::Reader(e.to_string())))?;
            let merged = match other {
                Sheets::Xls(b) => b.merge_cells_by_sheet_name(&name).ok(),
                _ => None,
            };
            let mut grid = grid(&range, &name, options.trim, is_1904).map_err(stopped)?;
            if matches!(other, Sheets::Ods(_)) {
                ods_booleans(path, &name, &mut grid);
            }
            (grid, merged)
        }
    };
    if options.visible_only {
        let hidden_err = |reason: String| SheetError::Hidden {
            path: path.to_path_buf(),
            reason,
        };
        grid.hidden = match &book {
            Sheets::Xlsx(_) => super::hidden::xlsx(path, &name),
            Sheets::Ods(_) => super::hidden::ods(path, &name),
            Sheets::Xls(_) | Sheets::Xlsb(_) => Err(format!(
                "juru can tell hidden rows only in .xlsx, .xlsm and .ods workbooks (and .csv files, which hide none), not in {}; save it as .xlsx, or leave out input.visible_only",
                if matches!(book, Sheets::Xls(_)) { "an .xls workbook" } else { "an .xlsb workbook" }
            )),
        }
        .map_err(|reason| match reason.starts_with("juru can tell") {
            true => hidden_err(reason),
            false => hidden_err(format!("cannot read which rows are hidden: {reason}")),
        })?;
    }
    drop(book);
    grid.merged = merged
        .unwrap_or_default()
        .iter()
        .map(|d| (d.start, d.end))
        .collect();
    build(path, name, grid, options)
}

/// LibreOffice stores TRUE and FALSE as 1 and 0 marked as booleans, which
/// calamine reads as numbers: they become [`Cell::Bool`] again. (When the
/// marks cannot be read, the numbers stay.)
fn ods_booleans(path: &Path, sheet: &str, grid: &mut Grid) {
    let Ok(found) = super::hidden::ods_booleans(path, sheet, MAX_CELLS) else {
        return;
    };
    let offset = grid.first_column.saturating_sub(1);
    for (r, c, value) in found {
        let Ok(i) = grid.rows.binary_search_by_key(&(r + 1), |(n, _)| *n) else {
            continue;
        };
        let Some(j) = c.checked_sub(offset) else {
            continue;
        };
        if let Some(cell) = grid.rows[i].1.get_mut(j as usize) {
            if matches!(cell, Cell::Int(_) | Cell::Float(_)) {
                *cell = Cell::Bool(value);
            }
        }
    }
}

/// Why reading a sheet stopped: a limit of [`guard`] (the sentence saying
/// which), or the reader's own error.
enum Stop {
    Limit(String),
    Reader(String),
}

/// `"B2"`: a 0-based row and column as Excel names the cell.
fn cell_name(row: u32, col: u32) -> String {
    let mut letters = Vec::new();
    let mut n = u64::from(col) + 1;
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        letters.push(b'A' + rem);
        n = (n - 1) / 26;
    }
    letters.reverse();
    format!(
        "{}{}",
        String::from_utf8_lossy(&letters),
        u64::from(row) + 1
    )
}

/// A cell whose text is longer than a cell may hold.
fn long_text(sheet: &str, row: u32, col: u32, len: usize) -> Stop {
    Stop::Limit(format!(
        "cell {} of sheet \"{sheet}\" holds {} of text, more than the {} juru reads from one cell (Excel itself keeps at most 32,767 characters in a cell)",
        cell_name(row, col),
        size_text(len as u64),
        size_text(MAX_CELL_TEXT as u64)
    ))
}

/// A sheet with more cells than juru reads.
pub(super) fn too_many_cells(sheet: &str, detail: &str) -> String {
    format!(
        "sheet \"{sheet}\" is larger than juru reads: {detail}; split it into smaller workbooks"
    )
}

/// The cells of a sheet as they stream out of its file, converted at once
/// (shared strings are copied once, into the cells that keep them) and held
/// within the limits of [`guard`]. Columns are absolute: the grid starts at
/// column A.
struct Collect<'a> {
    sheet: &'a str,
    trim: bool,
    rows: Vec<(u32, Vec<Cell>)>,
    /// Cells held so far, empty ones in between included.
    cells: usize,
    marks: Marks,
}

impl<'a> Collect<'a> {
    fn new(sheet: &'a str, trim: bool) -> Collect<'a> {
        Collect {
            sheet,
            trim,
            rows: Vec::new(),
            cells: 0,
            marks: Marks::new(),
        }
    }

    fn add(&mut self, r: u32, c: u32, value: &DataRef<'_>, formula: bool) -> Result<(), Stop> {
        let text_len = match value {
            DataRef::SharedString(s) => s.len(),
            DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.len(),
            _ => 0,
        };
        if text_len > MAX_CELL_TEXT {
            return Err(long_text(self.sheet, r, c, text_len));
        }
        let mark = match value {
            DataRef::Error(e) => Some(Mark::Error(e.to_string())),
            DataRef::Float(x) if is_big(*x) => Some(Mark::Big),
            DataRef::Empty if formula => Some(Mark::NoValue),
            _ => None,
        };
        if let Some(mark) = mark {
            if (c as usize) < MAX_COLUMNS {
                self.marks.insert((r.saturating_add(1), c as usize), mark);
            }
        }
        let value = convert_ref(value, self.trim);
        if value == Cell::Empty {
            return Ok(());
        }
        let col = c as usize;
        if col >= MAX_COLUMNS {
            return Err(Stop::Limit(format!(
                "sheet \"{}\" has a value in cell {}, beyond the {} columns juru reads (as Excel)",
                self.sheet,
                cell_name(r, c),
                count_text(MAX_COLUMNS as u64)
            )));
        }
        let number = r.saturating_add(1);
        if self.rows.last().is_none_or(|(n, _)| *n != number) {
            if self.rows.len() >= MAX_ROWS {
                return Err(Stop::Limit(format!(
                    "sheet \"{}\" has more than the {} rows juru reads (as Excel)",
                    self.sheet,
                    count_text(MAX_ROWS as u64)
                )));
            }
            self.rows.push((number, Vec::new()));
        }
        if let Some((_, cells)) = self.rows.last_mut() {
            if cells.len() <= col {
                self.cells += col + 1 - cells.len();
                if self.cells > MAX_CELLS {
                    return Err(Stop::Limit(too_many_cells(
                        self.sheet,
                        &format!(
                            "its rows, counted from column A to the last value of each, hold more than {} cells",
                            count_text(MAX_CELLS as u64)
                        ),
                    )));
                }
                cells.resize(col + 1, Cell::Empty);
            }
            cells[col] = value;
        }
        Ok(())
    }

    fn finish(self, is_1904: bool) -> Grid {
        let mut rows = self.rows;
        if !rows.is_sorted_by_key(|(n, _)| *n) {
            // Rows out of order in the file (rare, but allowed): merge them.
            rows.sort_by_key(|(n, _)| *n);
            rows.dedup_by(|later, kept| {
                if later.0 != kept.0 {
                    return false;
                }
                let cells = std::mem::take(&mut later.1);
                for (c, v) in cells.into_iter().enumerate() {
                    if !v.is_empty() {
                        if kept.1.len() <= c {
                            kept.1.resize(c + 1, Cell::Empty);
                        }
                        kept.1[c] = v;
                    }
                }
                true
            });
        }
        Grid {
            rows,
            first_column: 1,
            is_1904,
            merged: Vec::new(),
            marks: self.marks,
            text_file: false,
            hidden: Default::default(),
        }
    }
}

/// The cells of a sheet calamine read whole (.xls, .ods).
fn grid(range: &Range<Data>, sheet: &str, trim: bool, is_1904: bool) -> Result<Grid, Stop> {
    let (height, width) = range.get_size();
    if height.saturating_mul(width) > MAX_CELLS {
        return Err(Stop::Limit(too_many_cells(
            sheet,
            &format!(
                "it spans {} rows by {} columns, more than {} cells",
                count_text(height as u64),
                count_text(width as u64),
                count_text(MAX_CELLS as u64)
            ),
        )));
    }
    let (start_row, start_col) = range.start().unwrap_or((0, 0));
    let mut rows = Vec::with_capacity(height);
    let mut marks = Marks::new();
    for (i, r) in range.rows().enumerate() {
        let offset = u32::try_from(i).unwrap_or(u32::MAX);
        let number = offset.saturating_add(start_row).saturating_add(1);
        let mut cells = Vec::with_capacity(r.len());
        for (j, d) in r.iter().enumerate() {
            if let Data::String(s) = d {
                if s.len() > MAX_CELL_TEXT {
                    let col = start_col.saturating_add(u32::try_from(j).unwrap_or(u32::MAX));
                    return Err(long_text(sheet, number - 1, col, s.len()));
                }
            }
            match d {
                Data::Error(e) => {
                    marks.insert((number, j), Mark::Error(e.to_string()));
                }
                Data::Float(x) if is_big(*x) => {
                    marks.insert((number, j), Mark::Big);
                }
                _ => {}
            }
            cells.push(convert(d, trim));
        }
        rows.push((number, cells));
    }
    Ok(Grid {
        rows,
        first_column: start_col.saturating_add(1),
        is_1904,
        merged: Vec::new(),
        marks,
        text_file: false,
        hidden: Default::default(),
    })
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

/// One calamine value as a [`Cell`].
fn convert(data: &Data, trim: bool) -> Cell {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) => text_cell(s, trim),
        Data::Int(i) => Cell::Int(*i),
        Data::Float(x) => number_cell(*x),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) => excel_datetime_cell(dt),
        Data::DateTimeIso(s) => iso_cell(s),
        Data::DurationIso(s) => text_cell(s, true),
        Data::Error(e) => Cell::Text(e.to_string()),
    }
}

/// One streamed calamine value as a [`Cell`].
fn convert_ref(data: &DataRef<'_>, trim: bool) -> Cell {
    match data {
        DataRef::Empty => Cell::Empty,
        DataRef::SharedString(s) => text_cell(s, trim),
        DataRef::String(s) => text_cell(s, trim),
        DataRef::Int(i) => Cell::Int(*i),
        DataRef::Float(x) => number_cell(*x),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(dt) => excel_datetime_cell(dt),
        DataRef::DateTimeIso(s) => iso_cell(s),
        DataRef::DurationIso(s) => text_cell(s, true),
        DataRef::Error(e) => Cell::Text(e.to_string()),
    }
}

/// Text, trimmed when asked; text of only spaces is [`Cell::Empty`] either way.
/// A no-break space is a space, and the apostrophe people type before digits
/// to keep them text (`'3217027001920004`) is not part of the value.
pub(super) fn text_cell(s: &str, trim: bool) -> Cell {
    let cleaned;
    let s = if s.contains('\u{a0}') {
        cleaned = s.replace('\u{a0}', " ");
        cleaned.as_str()
    } else {
        s
    };
    let t = s.trim();
    let t = match t.strip_prefix('\'') {
        Some(rest) if !rest.trim().is_empty() && !rest.contains('\'') => rest,
        _ => t,
    };
    if t.is_empty() {
        Cell::Empty
    } else if trim {
        Cell::Text(t.to_string())
    } else if t.len() != s.trim().len() {
        // Only the apostrophe goes; the spaces stay.
        Cell::Text(s.replacen('\'', "", 1))
    } else {
        Cell::Text(s.to_string())
    }
}

/// An integral number read as an identifier's digits ([`number_cell`]): more
/// than the 15 significant digits Excel keeps.
pub(super) fn is_big(x: f64) -> bool {
    x.is_finite() && x.fract() == 0.0 && (IDENTIFIER_FROM..IDENTIFIER_UP_TO).contains(&x.abs())
}

/// A number: [`Cell::Int`] when integral, [`Cell::Float`] when not; an
/// integral number of 16 digits or more is an identifier someone typed as a
/// number (a NIK, an 18-digit NIP) and becomes [`Cell::Text`] of its digits,
/// never `1.99E+17`.
pub(super) fn number_cell(x: f64) -> Cell {
    if !x.is_finite() || x.fract() != 0.0 {
        return Cell::Float(x);
    }
    if x.abs() < IDENTIFIER_FROM {
        Cell::Int(x as i64)
    } else if x.abs() < IDENTIFIER_UP_TO {
        Cell::Text(format!("{x:.0}"))
    } else {
        Cell::Float(x)
    }
}

/// A date-formatted number: a date, a date and time, or (below one day, or
/// with a duration format like `[h]:mm`) a time of day or duration, which has
/// no [`Cell`] kind of its own and becomes text like "08:30:00". calamine
/// already counts from 1904 for workbooks that use that date system.
fn excel_datetime_cell(dt: &calamine::ExcelDateTime) -> Cell {
    let serial = dt.as_f64();
    if dt.is_duration() || (0.0..1.0).contains(&serial) {
        return Cell::Text(clock_text(serial));
    }
    match dt.as_datetime() {
        Some(value) => date_cell(value),
        None => number_cell(serial),
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
            return date_cell(dt);
        }
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return date_cell(dt.naive_local());
    }
    if let Ok(time) = NaiveTime::parse_from_str(t, "%H:%M:%S%.f") {
        return Cell::Text(format!(
            "{:02}:{:02}:{:02}",
            time.hour(),
            time.minute(),
            time.second()
        ));
    }
    text_cell(t, true)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn numbers_become_int_when_integral() {
        assert_eq!(number_cell(42.0), Cell::Int(42));
        assert_eq!(number_cell(-0.0), Cell::Int(0));
        assert_eq!(number_cell(2.5), Cell::Float(2.5));
        assert_eq!(number_cell(1e300), Cell::Float(1e300));
        assert_eq!(
            number_cell(999_999_999_999_999.0),
            Cell::Int(999_999_999_999_999),
            "15 digits: an amount"
        );
        assert_eq!(
            number_cell(3_201_010_101_010_001.0),
            Cell::Text("3201010101010001".into()),
            "a 16-digit NIK typed as a number"
        );
        assert_eq!(
            number_cell(-199_001_012_022_011_001.0),
            Cell::Text("-199001012022011008".into()),
            "the digits the file holds, no exponent"
        );
        assert!(matches!(number_cell(f64::NAN), Cell::Float(_)));
        assert_eq!(number_cell(1e21), Cell::Float(1e21));
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
            convert(&Data::Error(calamine::CellErrorType::NA), true),
            Cell::Text("#N/A".into())
        );
        assert_eq!(
            convert(&Data::String("  3201010101010001 ".into()), true),
            Cell::Text("3201010101010001".into())
        );
        assert_eq!(
            convert(&Data::String("  Jl. Merdeka ".into()), false),
            Cell::Text("  Jl. Merdeka ".into())
        );
        assert_eq!(convert(&Data::String("   ".into()), false), Cell::Empty);
        assert_eq!(convert(&Data::Int(7), true), Cell::Int(7));
    }

    #[test]
    fn content_sniffing() {
        assert_eq!(sniff(b"PK\x03\x04rest"), Content::Zip);
        assert_eq!(
            sniff(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0]),
            Content::Ole
        );
        assert_eq!(sniff(b"\xEF\xBB\xBF\r\n <HTML><body>"), Content::Html);
        assert_eq!(sniff(b"<table><tr>"), Content::Html);
        assert_eq!(sniff(b"NIK;Nama\r\n"), Content::Other);
        assert_eq!(sniff(b"<3 ;a\n"), Content::Other);
        assert_eq!(sniff(b""), Content::Other);
    }
}
