//! Writing result workbooks (.xlsx) with rust_xlsxwriter.
//!
//! Sheets are written in rust_xlsxwriter's constant-memory mode: each row goes to
//! a temporary file beside the target as soon as it is complete, so a workbook of
//! 100,000 rows costs little more memory than the rows handed in; the zip is then
//! written straight into the temporary workbook file that is renamed into place.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rust_xlsxwriter::{
    Color, ExcelDateTime, Format, FormatBorder, FormatPattern, Image, Url, Workbook, Worksheet,
    XlsxError,
};

use super::{Cell, SheetError};

/// Excel's limit on the length of a sheet name (in UTF-16 units).
const SHEET_NAME_MAX: usize = 31;
/// Excel's limit on the length of a cell's text (in UTF-16 units).
const CELL_TEXT_MAX: usize = 32_767;
/// Excel's last row index (0-based).
const LAST_ROW: u32 = 1_048_575;
/// Excel's number of columns.
const MAX_COLUMNS: usize = 16_384;
/// Widest a fitted column gets, in characters.
const MAX_COLUMN_CHARS: u32 = 60;
/// Integers below this magnitude are exact as Excel numbers (doubles) and read
/// back as [`Cell::Int`].
const MAX_EXACT_INT: u64 = 1 << 53;

/// The colour of a result row's status cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Light green fill, dark green text.
    Good,
    /// Amber fill, dark amber text.
    Warning,
    /// Light red fill, dark red text.
    Bad,
}

/// One sheet of a workbook to write.
#[derive(Debug, Clone, Default)]
pub struct OutSheet {
    /// The sheet name; made valid for Excel (at most 31 characters, none of
    /// `[]:*?/\`, unique in the workbook) when written.
    pub name: String,
    /// The header row.
    pub headers: Vec<String>,
    /// The data rows below the header.
    pub rows: Vec<OutRow>,
    /// Column whose cell is filled with the row's tone colour (green / amber / red), if any.
    pub tone_column: Option<usize>,
}

/// One data row of an [`OutSheet`].
#[derive(Debug, Clone, Default)]
pub struct OutRow {
    /// The cells, from the first column on; a row may be shorter or longer
    /// than the header.
    pub cells: Vec<Cell>,
    /// Colour of the sheet's `tone_column` cell in this row, if any.
    pub tone: Option<Tone>,
}

/// Writes the sheets to `path` atomically: a temp file in the same folder, renamed into place;
/// on error no file (and no temp file) is left at `path`.
///
/// Every sheet gets a bold, frozen header row with filter buttons and column
/// widths fitted to the longest value (at most 60 characters). Repeated
/// headers get ` (2)`, ` (3)`… so that every column can be found by name.
///
/// An existing file at `path` is replaced. The parent folder must exist. With
/// no sheets at all the workbook gets one empty sheet, as Excel needs one.
///
/// Values Excel cannot hold are written as their text ([`Cell::to_text`])
/// rather than failing the whole workbook: integers of magnitude 2^53 or more
/// (which a double would round), non-finite floats, and dates before 1900 or
/// after 9999.
/// Text longer than Excel's 32,767 characters is cut with a trailing "…", and
/// a link Excel refuses (an over-long URL) is written as its plain text.
pub fn write(path: &Path, sheets: &[OutSheet]) -> Result<(), SheetError> {
    let fail = |reason: String| SheetError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let folder = target_folder(path).map_err(fail)?;
    let mut workbook = Workbook::new();
    // The rows wait in temporary files beside the target, not in /tmp (which
    // may be memory).
    workbook.set_tempdir(&folder).map_err(|e| {
        fail(format!(
            "cannot write temporary files in {} ({e})",
            folder.display()
        ))
    })?;
    build(&mut workbook, sheets).map_err(fail)?;
    save_atomically(path, &folder, |file| {
        workbook
            .save_to_writer(std::io::BufWriter::new(file))
            .map_err(|e| format!("cannot assemble the workbook ({e})"))
    })
    .map_err(fail)
}

/// A picture placed over a cell of a sheet written by [`write_with_images`]: the
/// image is embedded in the workbook (shown scaled to fit `width` × `height`
/// pixels, its full resolution kept), and the row is made tall enough for it.
#[derive(Debug, Clone, Default)]
pub struct OutImage {
    /// Index of the sheet in the `sheets` handed to [`write_with_images`].
    pub sheet: usize,
    /// Row and column of the top left cell (0-based; row 0 is the header).
    pub row: u32,
    pub col: u16,
    /// The picture file's bytes (PNG, JPEG, GIF, BMP).
    pub bytes: Vec<u8>,
    /// The box the picture is scaled into, keeping its aspect ratio; 0 = natural
    /// size (the row height is then left alone).
    pub width: u32,
    pub height: u32,
    /// Where a click on the picture leads: a place in the workbook
    /// (`'Sheet name'!A1`) or a URL.
    pub link: Option<String>,
    /// Text for screen readers.
    pub alt_text: String,
}

/// [`write`], plus pictures placed over cells. Sheets that carry pictures are
/// kept in memory while written (not in constant-memory mode), so they should be
/// of a modest size, such as an exception report.
pub fn write_with_images(
    path: &Path,
    sheets: &[OutSheet],
    images: &[OutImage],
) -> Result<(), SheetError> {
    let fail = |reason: String| SheetError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let folder = target_folder(path).map_err(fail)?;
    let mut workbook = Workbook::new();
    workbook.set_tempdir(&folder).map_err(|e| {
        fail(format!(
            "cannot write temporary files in {} ({e})",
            folder.display()
        ))
    })?;
    build_with_images(&mut workbook, sheets, images).map_err(fail)?;
    save_atomically(path, &folder, |file| {
        workbook
            .save_to_writer(std::io::BufWriter::new(file))
            .map_err(|e| format!("cannot assemble the workbook ({e})"))
    })
    .map_err(fail)
}

/// Formats used while writing, built once per workbook.
struct Styles {
    header: Format,
    /// Indexed by [`Kind`] then by tone (0 = none, then Good, Warning, Bad).
    cells: [[Option<Format>; 4]; 4],
}

/// What number format / font a cell needs.
#[derive(Clone, Copy)]
enum Kind {
    Plain = 0,
    Date = 1,
    DateTime = 2,
    Link = 3,
}

impl Styles {
    fn new() -> Styles {
        let header = Format::new()
            .set_bold()
            .set_pattern(FormatPattern::Solid)
            .set_background_color(Color::RGB(0xD9D9D9))
            .set_border_bottom(FormatBorder::Thin);

        let base = |kind: Kind| match kind {
            Kind::Plain => Format::new(),
            Kind::Date => Format::new().set_num_format("dd/mm/yyyy"),
            Kind::DateTime => Format::new().set_num_format("dd/mm/yyyy hh:mm:ss"),
            Kind::Link => Format::new().set_hyperlink(),
        };
        let toned = |kind: Kind, tone: Tone| {
            let (fill, font) = match tone {
                Tone::Good => (0xC6EFCE, 0x006100),
                Tone::Warning => (0xFFEB9C, 0x9C5700),
                Tone::Bad => (0xFFC7CE, 0x9C0006),
            };
            let format = base(kind)
                .set_pattern(FormatPattern::Solid)
                .set_background_color(Color::RGB(fill));
            match kind {
                // A link keeps its hyperlink colour.
                Kind::Link => format,
                _ => format.set_font_color(Color::RGB(font)),
            }
        };
        let row = |kind: Kind| {
            let none = match kind {
                Kind::Plain => None,
                _ => Some(base(kind)),
            };
            [
                none,
                Some(toned(kind, Tone::Good)),
                Some(toned(kind, Tone::Warning)),
                Some(toned(kind, Tone::Bad)),
            ]
        };
        Styles {
            header,
            cells: [
                row(Kind::Plain),
                row(Kind::Date),
                row(Kind::DateTime),
                row(Kind::Link),
            ],
        }
    }

    fn get(&self, kind: Kind, tone: Option<Tone>) -> Option<&Format> {
        let t = match tone {
            None => 0,
            Some(Tone::Good) => 1,
            Some(Tone::Warning) => 2,
            Some(Tone::Bad) => 3,
        };
        self.cells[kind as usize][t].as_ref()
    }
}

fn build(workbook: &mut Workbook, sheets: &[OutSheet]) -> Result<(), String> {
    build_with_images(workbook, sheets, &[])
}

fn build_with_images(
    workbook: &mut Workbook,
    sheets: &[OutSheet],
    images: &[OutImage],
) -> Result<(), String> {
    if sheets.is_empty() {
        workbook.add_worksheet();
        return Ok(());
    }
    let styles = Styles::new();
    let names = sheet_names(sheets);
    for (i, (sheet, name)) in sheets.iter().zip(names).enumerate() {
        let pictures: Vec<&OutImage> = images.iter().filter(|p| p.sheet == i).collect();
        let worksheet = if pictures.is_empty() {
            workbook
                .add_worksheet_with_constant_memory()
                .map_err(|e| format!("cannot start sheet \"{name}\" ({e})"))?
        } else {
            workbook.add_worksheet()
        };
        worksheet
            .set_name(&name)
            .map_err(|e| format!("invalid sheet name \"{name}\" ({e})"))?;
        fill_sheet(worksheet, sheet, &styles)
            .map_err(|reason| format!("sheet \"{name}\": {reason}"))?;
        for p in pictures {
            place_image(worksheet, p).map_err(|e| {
                let cell = rust_xlsxwriter::utility::row_col_to_cell(p.row, p.col);
                format!("sheet \"{name}\": picture at {cell}: {e}")
            })?;
        }
    }
    Ok(())
}

/// One picture, scaled into its box, the row made as tall as the box.
fn place_image(ws: &mut Worksheet, p: &OutImage) -> Result<(), XlsxError> {
    let mut image = Image::new_from_buffer(&p.bytes)?;
    if p.width > 0 && p.height > 0 {
        image = image.set_scale_to_size(p.width, p.height, true);
        ws.set_row_height_pixels(p.row, p.height + 6)?;
    }
    if !p.alt_text.is_empty() {
        image = image.set_alt_text(p.alt_text.clone());
    }
    if let Some(link) = &p.link {
        let target = if link.contains("://") || link.starts_with("mailto:") {
            link.clone()
        } else {
            format!("internal:{link}")
        };
        image = image.set_url(target.as_str())?;
    }
    ws.insert_image_with_offset(p.row, p.col, &image, 3, 3)?;
    Ok(())
}

fn fill_sheet(ws: &mut Worksheet, sheet: &OutSheet, styles: &Styles) -> Result<(), String> {
    let width = sheet
        .rows
        .iter()
        .map(|r| r.cells.len())
        .chain([sheet.headers.len()])
        .max()
        .unwrap_or(0);
    if width > MAX_COLUMNS {
        return Err(format!(
            "{width} columns is more than Excel allows ({MAX_COLUMNS})"
        ));
    }
    if sheet.rows.len() > LAST_ROW as usize {
        return Err(format!(
            "{} data rows is more than Excel allows ({LAST_ROW})",
            sheet.rows.len()
        ));
    }
    let at = |row: u32, col: u16, e: XlsxError| {
        let cell = rust_xlsxwriter::utility::row_col_to_cell(row, col);
        format!("cell {cell}: {e}")
    };

    // Sheet-wide settings first: rows are written once, in order.
    for (c, chars) in column_widths(sheet, width).into_iter().enumerate() {
        if let Some(chars) = chars {
            ws.set_column_width(c as u16, chars)
                .map_err(|e| e.to_string())?;
        }
    }
    if !sheet.headers.is_empty() {
        let last_col = (sheet.headers.len() - 1) as u16;
        ws.set_freeze_panes(1, 0).map_err(|e| e.to_string())?;
        ws.autofilter(0, 0, sheet.rows.len() as u32, last_col)
            .map_err(|e| format!("cannot set the autofilter ({e})"))?;
    }

    for (c, header) in unique_headers(&sheet.headers).iter().enumerate() {
        let col = c as u16; // c < MAX_COLUMNS, checked above
        ws.write_string_with_format(0, col, fit_text(header), &styles.header)
            .map_err(|e| at(0, col, e))?;
    }

    for (i, row) in sheet.rows.iter().enumerate() {
        let r = i as u32 + 1; // i < LAST_ROW, checked above
        for (c, cell) in row.cells.iter().enumerate() {
            let col = c as u16;
            let tone = row.tone.filter(|_| sheet.tone_column == Some(c));
            write_cell(ws, r, col, cell, tone, styles).map_err(|e| at(r, col, e))?;
        }
        // A row shorter than the tone column still shows its colour.
        if let (Some(tc), Some(tone)) = (sheet.tone_column, row.tone) {
            if tc >= row.cells.len() && tc < MAX_COLUMNS {
                let col = tc as u16;
                if let Some(format) = styles.get(Kind::Plain, Some(tone)) {
                    ws.write_blank(r, col, format).map_err(|e| at(r, col, e))?;
                }
            }
        }
    }

    Ok(())
}

/// The headers with repeats (case and spaces ignored) made distinct by ` (2)`,
/// ` (3)`…, the way [`read`](super::read) names repeated headers, so every
/// column of a written workbook can be addressed by its header (an input
/// column "Status" next to juru's own "Status" becomes "Status (2)").
fn unique_headers(headers: &[String]) -> Vec<String> {
    let key = |h: &str| super::table::header_key(h);
    let mut out: Vec<String> = Vec::with_capacity(headers.len());
    for header in headers {
        let mut name = header.clone();
        let mut n = 2;
        // Empty headers (a summary sheet's) stay empty.
        while !header.trim().is_empty() && out.iter().any(|o| key(o) == key(&name)) {
            name = format!("{} ({n})", header.trim());
            n += 1;
        }
        out.push(name);
    }
    out
}

/// The width in characters of each column: its longest value (dates as
/// `dd/mm/yyyy`, a link as its text) plus padding, or the header plus room for
/// its filter button, between 6 and [`MAX_COLUMN_CHARS`]; `None` for a column
/// without header and values.
fn column_widths(sheet: &OutSheet, width: usize) -> Vec<Option<f64>> {
    let mut chars: Vec<usize> = (0..width)
        .map(|c| sheet.headers.get(c).map_or(0, |h| h.chars().count() + 4))
        .collect();
    for row in &sheet.rows {
        for (c, cell) in row.cells.iter().enumerate() {
            let n = shown_chars(cell);
            if n > 0 && n + 2 > chars[c] {
                chars[c] = n + 2;
            }
        }
    }
    chars
        .into_iter()
        .map(|n| (n > 0).then(|| n.clamp(6, MAX_COLUMN_CHARS as usize) as f64))
        .collect()
}

/// About how many characters a cell shows (the longest line of a text).
fn shown_chars(cell: &Cell) -> usize {
    match cell {
        Cell::Empty => 0,
        Cell::Text(s) => s.lines().map(|l| l.chars().count()).max().unwrap_or(0),
        Cell::Int(i) => {
            let mut n = if *i < 0 { 2 } else { 1 };
            let mut v = i.unsigned_abs();
            while v >= 10 {
                v /= 10;
                n += 1;
            }
            n
        }
        Cell::Float(_) | Cell::Link { .. } => cell.to_text().chars().count(),
        Cell::Bool(_) => 5,
        Cell::Date(_) => 10,
        Cell::DateTime(_) => 19,
    }
}

fn write_cell(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    cell: &Cell,
    tone: Option<Tone>,
    styles: &Styles,
) -> Result<(), XlsxError> {
    let plain = styles.get(Kind::Plain, tone);
    match cell {
        Cell::Empty => {
            if let Some(format) = plain {
                ws.write_blank(row, col, format)?;
            }
        }
        Cell::Text(s) => write_text(ws, row, col, s, plain)?,
        Cell::Int(i) => {
            if i.unsigned_abs() < MAX_EXACT_INT {
                write_number(ws, row, col, *i as f64, plain)?;
            } else {
                write_text(ws, row, col, &cell.to_text(), plain)?;
            }
        }
        Cell::Float(x) => {
            if x.is_finite() {
                write_number(ws, row, col, *x, plain)?;
            } else {
                write_text(ws, row, col, &cell.to_text(), plain)?;
            }
        }
        Cell::Bool(b) => match plain {
            Some(format) => {
                ws.write_boolean_with_format(row, col, *b, format)?;
            }
            None => {
                ws.write_boolean(row, col, *b)?;
            }
        },
        Cell::Date(d) => match (excel_date(*d), styles.get(Kind::Date, tone)) {
            (Some(value), Some(format)) => {
                ws.write_datetime_with_format(row, col, &value, format)?;
            }
            _ => write_text(ws, row, col, &cell.to_text(), plain)?,
        },
        Cell::DateTime(dt) => match (excel_datetime(*dt), styles.get(Kind::DateTime, tone)) {
            (Some(value), Some(format)) => {
                ws.write_datetime_with_format(row, col, &value, format)?;
            }
            _ => write_text(ws, row, col, &cell.to_text(), plain)?,
        },
        Cell::Link { target, .. } => {
            let shown = cell.to_text();
            let written = match (target.trim(), styles.get(Kind::Link, tone)) {
                ("", _) | (_, None) => false,
                (target, Some(format)) => {
                    let url = Url::new(link_url(target)).set_text(fit_text(&shown));
                    ws.write_url_with_format(row, col, url, format).is_ok()
                }
            };
            if !written {
                write_text(ws, row, col, &shown, plain)?;
            }
        }
    }
    Ok(())
}

fn write_text(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    text: &str,
    format: Option<&Format>,
) -> Result<(), XlsxError> {
    let text = fit_text(text);
    match format {
        Some(format) => ws.write_string_with_format(row, col, text, format)?,
        None => ws.write_string(row, col, text)?,
    };
    Ok(())
}

fn write_number(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    value: f64,
    format: Option<&Format>,
) -> Result<(), XlsxError> {
    match format {
        Some(format) => ws.write_number_with_format(row, col, value, format)?,
        None => ws.write_number(row, col, value)?,
    };
    Ok(())
}

/// The text cut to what an Excel cell can hold.
fn fit_text(text: &str) -> String {
    if text.encode_utf16().count() <= CELL_TEXT_MAX {
        return text.to_string();
    }
    let mut out = String::new();
    let mut units = 0;
    for ch in text.chars() {
        units += ch.len_utf16();
        if units > CELL_TEXT_MAX - 1 {
            break;
        }
        out.push(ch);
    }
    out.push('…');
    out
}

fn excel_date(d: NaiveDate) -> Option<ExcelDateTime> {
    let year = u16::try_from(d.year()).ok()?;
    ExcelDateTime::from_ymd(year, d.month() as u8, d.day() as u8).ok()
}

fn excel_datetime(dt: NaiveDateTime) -> Option<ExcelDateTime> {
    let seconds = f64::from(dt.second()) + f64::from(dt.nanosecond() % 1_000_000_000) / 1e9;
    excel_date(dt.date())?
        .and_hms(dt.hour() as u16, dt.minute() as u8, seconds)
        .ok()
}

/// The link as rust_xlsxwriter wants it. URLs (`https://…`, `mailto:…`,
/// `file://…`) and `internal:` links pass as they are; anything else is a file
/// path. rust_xlsxwriter stores a `file:///` link whose path is relative (not
/// `C:\…` nor `\\server\…`) without the prefix, so Excel resolves it against
/// the workbook's own folder: "screenshots/item-3.png" opens the file beside
/// the workbook.
fn link_url(target: &str) -> String {
    let lower = target.to_ascii_lowercase();
    if lower.contains("://") || lower.starts_with("mailto:") || lower.starts_with("internal:") {
        return target.to_string();
    }
    let is_windows_absolute = target.starts_with(r"\\")
        || (target.len() >= 2
            && target.as_bytes()[0].is_ascii_alphabetic()
            && target.as_bytes()[1] == b':');
    if is_windows_absolute {
        format!("file:///{target}")
    } else {
        // Relative (or a Unix absolute path): forward slashes work for Excel
        // and LibreOffice alike.
        format!("file:///{}", target.replace('\\', "/"))
    }
}

/// Valid, unique Excel sheet names for the sheets, in order.
fn sheet_names(sheets: &[OutSheet]) -> Vec<String> {
    let mut taken: Vec<String> = Vec::with_capacity(sheets.len());
    let mut names = Vec::with_capacity(sheets.len());
    for (i, sheet) in sheets.iter().enumerate() {
        let mut base = clean_sheet_name(&sheet.name);
        if base.is_empty() {
            base = format!("Sheet{}", i + 1);
        }
        if base.eq_ignore_ascii_case("history") {
            // Excel keeps this name for itself.
            base.push_str(" 1");
        }
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains(&name.to_lowercase()) {
            let suffix = format!(" ({n})");
            let room = SHEET_NAME_MAX - suffix.len();
            name = format!("{}{suffix}", cut_utf16(&base, room).trim_end());
            n += 1;
        }
        taken.push(name.to_lowercase());
        names.push(name);
    }
    names
}

/// The name without the characters Excel forbids (`[]:*?/\` and control
/// characters), without apostrophes at either end, at most 31 long.
fn clean_sheet_name(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| {
            if "[]:*?/\\".contains(c) || c.is_control() {
                '-'
            } else {
                c
            }
        })
        .collect();
    let trimmed = replaced.trim().trim_matches('\'').trim();
    cut_utf16(trimmed, SHEET_NAME_MAX)
        .trim_end()
        .trim_end_matches('\'')
        .trim_end()
        .to_string()
}

/// The longest prefix of `s` that is at most `max` UTF-16 units long.
fn cut_utf16(s: &str, max: usize) -> &str {
    let mut units = 0;
    for (i, ch) in s.char_indices() {
        units += ch.len_utf16();
        if units > max {
            return &s[..i];
        }
    }
    s
}

/// The folder `path` is in, which must exist.
fn target_folder(path: &Path) -> Result<PathBuf, String> {
    if path.file_name().is_none() {
        return Err("the path does not name a file".to_string());
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match fs::metadata(&folder) {
        Ok(meta) if meta.is_dir() => Ok(folder),
        Ok(_) => Err(format!("{} is not a folder", folder.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("folder {} does not exist", folder.display()))
        }
        Err(e) => Err(format!("cannot access folder {} ({e})", folder.display())),
    }
}

/// Has `write` fill a new temp file beside `path` in `folder`, flushes it to
/// disk and renames it over `path`. On failure the temp file is removed.
fn save_atomically(
    path: &Path,
    folder: &Path,
    write: impl FnOnce(&mut File) -> Result<(), String>,
) -> Result<(), String> {
    let file_name = path
        .file_name()
        .ok_or_else(|| "the path does not name a file".to_string())?;
    let (temp_path, mut file) = create_temp(folder, &file_name.to_string_lossy())?;
    let result = (|| -> Result<(), String> {
        write(&mut file)?;
        file.sync_all()
            .map_err(|e| format!("cannot write the temporary file ({e})"))?;
        drop(file);
        fs::rename(&temp_path, path).map_err(|e| {
            format!(
                "cannot move the temporary file {} into place ({e})",
                temp_path.display()
            )
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp_path);
        return result;
    }
    sync_folder(folder);
    Ok(())
}

fn create_temp(folder: &Path, file_name: &str) -> Result<(PathBuf, File), String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last_error = None;
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = folder.join(format!(".{file_name}.{}-{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => {
                return Err(format!(
                    "cannot create a temporary file in {} ({e})",
                    folder.display()
                ))
            }
        }
    }
    Err(format!(
        "cannot create a temporary file in {} ({})",
        folder.display(),
        last_error.map(|e| e.to_string()).unwrap_or_default()
    ))
}

/// Makes the rename durable where the platform allows it; best effort.
fn sync_folder(folder: &Path) {
    #[cfg(unix)]
    if let Ok(dir) = File::open(folder) {
        let _ = dir.sync_all();
    }
    #[cfg(not(unix))]
    let _ = folder;
}

#[cfg(test)]
mod unit {
    use super::*;

    fn named(names: &[&str]) -> Vec<String> {
        let sheets: Vec<OutSheet> = names
            .iter()
            .map(|n| OutSheet {
                name: n.to_string(),
                ..OutSheet::default()
            })
            .collect();
        sheet_names(&sheets)
    }

    #[test]
    fn sheet_names_are_made_valid_and_unique() {
        let names = named(&[
            "Rekap 01/2024",
            "a[b]c:d*e?f\\g",
            "'quoted'",
            "",
            "A very long sheet name that Excel would refuse",
            "rekap 01-2024",
            "History",
        ]);
        assert_eq!(names[0], "Rekap 01-2024");
        assert_eq!(names[1], "a-b-c-d-e-f-g");
        assert_eq!(names[2], "quoted");
        assert_eq!(names[3], "Sheet4");
        assert_eq!(names[4], "A very long sheet name that Exc");
        assert_eq!(names[5], "rekap 01-2024 (2)");
        assert_eq!(names[6], "History 1");
        for name in &names {
            assert!(
                rust_xlsxwriter::utility::check_sheet_name(name).is_ok(),
                "{name}"
            );
        }

        let names = named(&["A very long sheet name that Excel would refuse"; 3]);
        assert_eq!(names[1], "A very long sheet name that (2)");
        assert_eq!(names[2], "A very long sheet name that (3)");
        assert!(names.iter().all(|n| n.encode_utf16().count() <= 31));
    }

    #[test]
    fn link_targets() {
        assert_eq!(
            link_url("screenshots/item-3.png"),
            "file:///screenshots/item-3.png"
        );
        assert_eq!(
            link_url(r"screenshots\item-3.png"),
            "file:///screenshots/item-3.png"
        );
        assert_eq!(link_url("https://x.go.id/a"), "https://x.go.id/a");
        assert_eq!(link_url(r"C:\Temp\a.png"), r"file:///C:\Temp\a.png");
        assert_eq!(link_url("mailto:a@b.id"), "mailto:a@b.id");
    }

    #[test]
    fn repeated_headers_are_numbered() {
        let h: Vec<String> = ["Status", "NIK", "status ", "Status", "", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            unique_headers(&h),
            ["Status", "NIK", "status (2)", "Status (3)", "", ""]
        );
    }

    #[test]
    fn long_text_is_cut_to_the_excel_limit() {
        let long = "x".repeat(40_000);
        let cut = fit_text(&long);
        assert_eq!(cut.encode_utf16().count(), CELL_TEXT_MAX);
        assert!(cut.ends_with('…'));
        assert_eq!(fit_text("short"), "short");
    }
}
