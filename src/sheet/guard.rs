//! What reading one input may cost, and the checks made before a reader touches
//! a file: an input comes from outside (a clerk's mail, an upload on the
//! dashboard), so a file made to exhaust the machine is refused with a sentence
//! saying why, before it is unpacked or parsed.
//!
//! - Zip containers (.xlsx, .xlsm, .xlsb, .ods) are inspected through their
//!   central directory only: the sizes their parts declare, unpacked, must stay
//!   within [`MAX_UNPACKED`], no part may unpack far beyond what a real
//!   workbook does ([`MAX_RATIO`]), and the declared sizes must fit the packed
//!   data. The zip reader then refuses any part that unpacks to more than it
//!   declared, so what was checked is what is read.
//! - OpenDocument sheets say how often a row or a cell repeats; the repeats are
//!   counted (streaming, without building anything) before the sheet is read.
//! - While a sheet is read: a cell holds at most [`MAX_CELL_TEXT`] of text, a
//!   sheet at most [`MAX_COLUMNS`] columns, [`MAX_ROWS`] rows and
//!   [`MAX_CELLS`] cells.
//! - Text files (.csv) are at most [`MAX_TEXT_FILE`] and must be text.
//!
//! Excel itself keeps at most 32,767 characters in a cell and 1,048,576 rows by
//! 16,384 columns in a sheet; the limits below are at or beyond what a real
//! work list needs.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use zip::CompressionMethod;

/// A workbook may unpack to at most this much (the sum of the sizes its zip
/// parts declare). A sheet of 100,000 rows by 12 columns unpacks to about
/// 60 MB; what is unpacked is also what the reader holds in memory at worst.
pub const MAX_UNPACKED: u64 = 256 * MB;

/// A part larger than [`RATIO_FROM`] may unpack to at most this many times its
/// packed size. Sheets of real data pack 5 to 30 times; a part that unpacks
/// 1,000 times (one character repeated) is made to exhaust memory.
pub const MAX_RATIO: u64 = 200;

/// Parts up to this size unpacked are not held to [`MAX_RATIO`] (small parts of
/// repeated markup pack very well and cost nothing).
pub const RATIO_FROM: u64 = 4 * MB;

/// A workbook holds at most this many parts (a real one holds a few dozen, a
/// few hundred with many sheets and pictures).
pub const MAX_PARTS: usize = 10_000;

/// A .csv (.tsv, .txt) file may be at most this large: as text it holds about
/// as many values as [`MAX_UNPACKED`] of workbook markup.
pub const MAX_TEXT_FILE: u64 = 64 * MB;

/// A cell may hold at most this much text (in bytes of UTF-8). Excel keeps at
/// most 32,767 characters in a cell.
pub const MAX_CELL_TEXT: usize = MB as usize;

/// A sheet may be at most this many columns wide (Excel's own limit, column XFD).
pub const MAX_COLUMNS: usize = 16_384;

/// A sheet may have at most this many rows (Excel's own limit).
pub const MAX_ROWS: usize = 1_048_576;

/// A sheet may hold at most this many cells, counted as its table is laid out
/// (rows times the columns from the first to the last one used), so that one
/// stray value far to the right cannot widen every row: 4 million cells are,
/// for example, 100,000 rows by 40 columns.
pub const MAX_CELLS: usize = 4_000_000;

const MB: u64 = 1024 * 1024;

/// `"300.0 MB"`, `"12 KB"`, `"5 bytes"` (1 MB = 1,048,576 bytes).
pub fn size_text(bytes: u64) -> String {
    if bytes >= MB {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    } else if bytes >= 1024 {
        format!("{} KB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// `1234567` as `"1,234,567"`.
pub fn count_text(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// `"an xlsx workbook"`, `"a csv file"`: what a file with this extension must be.
pub fn expected_kind(ext: &str) -> String {
    match ext {
        "csv" | "tsv" | "txt" => format!("a {ext} file"),
        // xlsx, xlsm, xls, xlsb, ods: all read with a vowel sound.
        _ => format!("an {ext} workbook"),
    }
}

/// What a file is, by its first bytes, for messages that name what a file
/// really is; `None` when nothing is recognised.
pub fn looks_like(head: &[u8]) -> Option<&'static str> {
    let magic: &[(&[u8], &str)] = &[
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF87a", "a GIF image"),
        (b"GIF89a", "a GIF image"),
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a zip archive"),
        (b"PK\x05\x06", "an empty zip archive"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"Rar!", "a RAR archive"),
        (b"7z\xBC\xAF\x27\x1C", "a 7-Zip archive"),
        (b"MZ", "a Windows program"),
        (b"\x7FELF", "a program (ELF)"),
        (b"{\\rtf", "an RTF document"),
        (b"II*\x00", "a TIFF image"),
        (b"MM\x00*", "a TIFF image"),
        (b"BM", "a BMP image"),
        (b"RIFF", "a media file (RIFF)"),
        (b"ID3", "an MP3 audio file"),
        (b"\x00\x00\x01\x00", "an icon"),
        (b"SQLite format 3\x00", "an SQLite database"),
        (
            b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
            "an Office file of the old kind (.xls or .doc)",
        ),
    ];
    if let Some((_, what)) = magic.iter().find(|(m, _)| head.starts_with(m)) {
        return Some(what);
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Some("a video or image file (MP4, HEIC)");
    }
    if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        return Some("a WebP image");
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    let lower = text[start..].to_ascii_lowercase();
    if lower.starts_with(b"<") {
        let excel_xml = contains(&lower, b"urn:schemas-microsoft-com:office:spreadsheet")
            || contains(&lower, b"progid=\"excel.sheet\"");
        if excel_xml {
            return Some("an Excel 2003 XML spreadsheet");
        }
        if [
            &b"<html"[..],
            b"<!doctype html",
            b"<table",
            b"<head",
            b"<body",
        ]
        .iter()
        .any(|m| lower.starts_with(m))
            || contains(&lower, b"<html")
        {
            return Some("an HTML web page");
        }
        if lower.starts_with(b"<?xml") {
            return Some("an XML file");
        }
    }
    if text_share(text) {
        return Some("text");
    }
    None
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether `bytes` read as text: no NUL byte and hardly any control characters.
fn text_share(bytes: &[u8]) -> bool {
    !bytes.is_empty() && !bytes.contains(&0) && control_bytes(bytes) * 100 <= bytes.len()
}

/// Control bytes that do not belong in text (all of C0 but tab, line feed,
/// form feed and carriage return; DEL).
fn is_control_byte(b: u8) -> bool {
    matches!(b, 0x00..=0x08 | 0x0B | 0x0E..=0x1F | 0x7F)
}

fn control_bytes(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| is_control_byte(**b)).count()
}

/// The kind of workbook a zip container holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Container {
    /// Office Open XML: .xlsx, .xlsm, .xlsb.
    OfficeOpenXml,
    /// OpenDocument: .ods.
    OpenDocument,
    /// Not readable as a zip archive: the workbook reader says how it is damaged.
    Unreadable,
}

/// Why a zip container is not read: the sentence for
/// [`SheetError::Open`](super::SheetError::Open) (it is no workbook, or is
/// damaged) or for [`SheetError::Refused`](super::SheetError::Refused) (reading
/// it would cost too much).
#[derive(Debug, PartialEq)]
pub(super) enum ZipProblem {
    Open(String),
    Refused(String),
}

/// Refuses a zip container (.xlsx, .xlsm, .xlsb, .ods) that is not a
/// workbook, or whose parts would unpack beyond what a workbook may; says
/// which kind of workbook it holds otherwise.
pub(super) fn check_zip(path: &Path, ext: &str) -> Result<Container, ZipProblem> {
    let file =
        File::open(path).map_err(|e| ZipProblem::Open(format!("cannot read the file ({e})")))?;
    let packed_file = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    let Ok(mut archive) = zip::ZipArchive::new(BufReader::new(file)) else {
        return Ok(Container::Unreadable);
    };
    let parts = archive.len();
    if parts > MAX_PARTS {
        return Err(ZipProblem::Refused(format!(
            "it is a zip archive of {} files, and a workbook holds far fewer (juru reads workbooks of up to {} parts)",
            count_text(parts as u64),
            count_text(MAX_PARTS as u64)
        )));
    }
    let names = archive
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.to_string());
    let container = zip_kind(names).map_err(|other| {
        let ext = if WORKBOOK_ZIPS.contains(&ext) {
            ext
        } else {
            "xlsx"
        };
        ZipProblem::Open(format!(
            "it is not {} (it looks like {other})",
            expected_kind(ext)
        ))
    })?;
    let mut total: u64 = 0;
    for i in 0..parts {
        let Ok(part) = archive.by_index_raw(i) else {
            return Ok(Container::Unreadable);
        };
        let name = part.name().map(|n| n.to_string()).unwrap_or_default();
        check_part(
            &name,
            part.compression(),
            part.compressed_size(),
            part.size(),
            packed_file,
        )?;
        total = total.saturating_add(part.size());
    }
    if total > MAX_UNPACKED {
        return Err(ZipProblem::Refused(format!(
            "it would unpack to {}, more than the {} juru reads from one workbook; split it into smaller workbooks",
            size_text(total),
            size_text(MAX_UNPACKED)
        )));
    }
    Ok(container)
}

/// Extensions of workbooks in zip containers.
const WORKBOOK_ZIPS: [&str; 4] = ["xlsx", "xlsm", "xlsb", "ods"];

/// The kind of workbook the part names are those of, else what the archive
/// looks like.
fn zip_kind(names: impl Iterator<Item = String>) -> Result<Container, &'static str> {
    let mut word = false;
    let mut slides = false;
    for name in names {
        let name = name.trim_start_matches('/');
        if name.starts_with("xl/") {
            return Ok(Container::OfficeOpenXml);
        }
        if name == "content.xml" {
            return Ok(Container::OpenDocument);
        }
        word |= name.starts_with("word/");
        slides |= name.starts_with("ppt/");
    }
    Err(if word {
        "a Word document (.docx)"
    } else if slides {
        "a PowerPoint presentation (.pptx)"
    } else {
        "a zip archive of other files"
    })
}

/// One part, by what the central directory declares about it.
fn check_part(
    name: &str,
    method: CompressionMethod,
    packed: u64,
    unpacked: u64,
    file_size: u64,
) -> Result<(), ZipProblem> {
    let inconsistent = || {
        ZipProblem::Open(format!(
            "its part {name} declares {} unpacked for {} packed, which cannot be: the file is damaged or was made to mislead",
            size_text(unpacked),
            size_text(packed)
        ))
    };
    if packed > file_size {
        return Err(inconsistent());
    }
    match method {
        CompressionMethod::Stored if packed != unpacked => return Err(inconsistent()),
        CompressionMethod::Deflated => {
            // Deflate never grows data by more than 5 bytes in 16 KB (stored
            // blocks) and never shrinks it more than about 1,032 times.
            let most_packed = unpacked + unpacked / 1000 + 1024;
            if packed > most_packed
                || unpacked > packed.saturating_mul(1100).saturating_add(64 * 1024)
            {
                return Err(inconsistent());
            }
        }
        _ => {}
    }
    if unpacked > RATIO_FROM && unpacked / packed.max(1) > MAX_RATIO {
        return Err(ZipProblem::Refused(format!(
            "its part {name} would unpack to {} from {} ({} times its size), as no real workbook does: it looks made to exhaust memory (a zip bomb) and is refused",
            size_text(unpacked),
            size_text(packed),
            count_text(unpacked / packed.max(1))
        )));
    }
    Ok(())
}

/// Counts what calamine would lay out for an OpenDocument spreadsheet
/// (`content.xml`, whose rows and cells may say they repeat thousands of
/// times), streaming, and refuses more than [`MAX_CELLS`] cells. `Ok` when the
/// file cannot be read this way (the reader then says what is wrong).
pub(super) fn check_ods(path: &Path) -> Result<(), String> {
    let Ok(file) = File::open(path) else {
        return Ok(());
    };
    let Ok(mut archive) = zip::ZipArchive::new(BufReader::new(file)) else {
        return Ok(());
    };
    let Ok(content) = archive.by_name("content.xml") else {
        return Ok(());
    };
    match ods_cells(BufReader::new(content)) {
        Some((sheet, cells)) if cells > MAX_CELLS as u64 => Err(format!(
            "sheet \"{sheet}\" would be laid out as {} cells (its rows and cells say they repeat), more than the {} juru reads from one sheet",
            count_text(cells),
            count_text(MAX_CELLS as u64)
        )),
        _ => Ok(()),
    }
}

/// The first table of an ODS `content.xml` that would take more than
/// [`MAX_CELLS`] cells, with its count; or the largest count. `None` when the
/// XML cannot be read (the reader reports that).
///
/// This mirrors calamine's reader: a row keeps its cells up to its last
/// non-empty one (repeats expanded, at most 16,384 columns); the sheet then
/// keeps the rows from its first to its last non-empty one, each repeated as
/// often as it says, all as wide as the widest.
fn ods_cells(content: impl std::io::BufRead) -> Option<(String, u64)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(content);
    let mut buf = Vec::new();
    let mut worst: Option<(String, u64)> = None;

    let mut table = String::new();
    let mut raw: u64 = 0; // cells stored while reading the rows
    let mut rows_total: u64 = 0;
    let mut first_row: Option<u64> = None; // row offset (repeats counted) of the first non-empty row
    let mut last_row_end: u64 = 0; // row offset just after the last non-empty row
    let mut col_min: u64 = u64::MAX;
    let mut col_max: u64 = 0;

    // The row being read.
    let mut in_row = false;
    let mut row_repeats: u64 = 1;
    let mut col: u64 = 0; // columns so far, repeats expanded
    let mut row_first: Option<u64> = None;
    let mut row_last: u64 = 0;
    let mut cell_open: Option<(u64, bool)> = None; // (repeats, has a value) of an open cell

    let attr = |e: &quick_xml::events::BytesStart<'_>, name: &str| -> Option<String> {
        e.attributes()
            .filter_map(Result::ok)
            .find(|a| a.key.as_ref() == name)
            .map(|a| a.value.into_owned())
    };
    let number = |v: Option<String>| -> u64 {
        v.and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(1)
            .max(1)
    };

    loop {
        let event = reader.read_event_into(&mut buf).ok()?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone().into_owned()), false),
            Event::Empty(e) => (Some(e.clone().into_owned()), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            match e.name().as_ref() {
                "table:table" => {
                    table = attr(&e, "table:name").unwrap_or_default();
                    raw = 0;
                    rows_total = 0;
                    first_row = None;
                    last_row_end = 0;
                    col_min = u64::MAX;
                    col_max = 0;
                }
                "table:table-row" => {
                    in_row = !empty;
                    let remaining = (MAX_ROWS as u64).saturating_sub(rows_total);
                    row_repeats = number(attr(&e, "table:number-rows-repeated")).min(remaining);
                    col = 0;
                    row_first = None;
                    row_last = 0;
                    if empty {
                        rows_total += row_repeats;
                    }
                }
                "table:table-cell" | "table:covered-table-cell" if in_row => {
                    let repeats = number(attr(&e, "table:number-columns-repeated"));
                    let valued = attr(&e, "office:value-type").is_some()
                        || attr(&e, "table:formula").is_some();
                    if empty {
                        end_cell(repeats, valued, &mut col, &mut row_first, &mut row_last);
                    } else {
                        cell_open = Some((repeats, valued));
                    }
                }
                // Text inside a cell gives it a value.
                "text:p" | "text:span" | "text:s" => {
                    if let Some((_, valued)) = cell_open.as_mut() {
                        *valued = true;
                    }
                }
                _ => {}
            }
        }
        match &event {
            Event::End(e) => match e.name().as_ref() {
                "table:table-cell" | "table:covered-table-cell" => {
                    if let Some((repeats, valued)) = cell_open.take() {
                        end_cell(repeats, valued, &mut col, &mut row_first, &mut row_last);
                    }
                }
                "table:table-row" if in_row => {
                    in_row = false;
                    raw += row_last;
                    if let Some(f) = row_first {
                        first_row.get_or_insert(rows_total);
                        last_row_end = rows_total + row_repeats;
                        col_min = col_min.min(f);
                        col_max = col_max.max(row_last);
                    }
                    rows_total += row_repeats;
                }
                "table:table" => {
                    let laid_out = match first_row {
                        Some(first) => (last_row_end - first) * (col_max - col_min.min(col_max)),
                        None => 0,
                    };
                    let cells = raw.saturating_add(laid_out);
                    if cells > MAX_CELLS as u64 {
                        return Some((table.clone(), cells));
                    }
                    if worst.as_ref().is_none_or(|(_, w)| cells > *w) {
                        worst = Some((table.clone(), cells));
                    }
                }
                _ => {}
            },
            Event::Text(_) => {
                if let Some((_, valued)) = cell_open.as_mut() {
                    *valued = true;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Some(worst.unwrap_or_default())
}

/// A cell of an ODS row ends: `repeats` columns, with a value or not.
fn end_cell(
    repeats: u64,
    valued: bool,
    col: &mut u64,
    row_first: &mut Option<u64>,
    row_last: &mut u64,
) {
    let start = *col;
    *col = col.saturating_add(repeats).min(MAX_COLUMNS as u64);
    if valued && *col > start {
        row_first.get_or_insert(start);
        *row_last = *col;
    }
}

/// Where a text file stops being text: the byte offset and 1-based line of the
/// first NUL byte, or, when more than 1 in 100 bytes (and at least
/// [`FEW_CONTROLS`]) are control characters, of the first of them; `None` for
/// text.
pub(super) fn binary_at(bytes: &[u8]) -> Option<(usize, usize, u8)> {
    let offending = match bytes.iter().position(|b| *b == 0) {
        Some(nul) => nul,
        None => {
            let controls = control_bytes(bytes);
            if controls < FEW_CONTROLS || controls * 100 <= bytes.len() {
                return None;
            }
            bytes.iter().position(|b| is_control_byte(*b))?
        }
    };
    let line = bytes[..offending].iter().filter(|b| **b == b'\n').count() + 1;
    Some((offending, line, bytes[offending]))
}

/// Text files may hold a few stray control characters (an end-of-file mark, a
/// form feed from an old system); this many or more, in a text of which they
/// make more than one in a hundred characters, are binary data.
const FEW_CONTROLS: usize = 8;

/// How many control bytes `bytes` holds.
pub(super) fn binary_count(bytes: &[u8]) -> usize {
    control_bytes(bytes)
}

/// The same for text decoded from UTF-16: the character index and line of the
/// first NUL or control character (or of an undecodable unit, U+FFFD) when
/// there are too many of them.
pub(super) fn binary_text_at(text: &str) -> Option<(usize, usize)> {
    let bad = |c: char| {
        matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
            || c == '\u{fffd}'
    };
    let total = text.chars().count();
    let count = text.chars().filter(|c| bad(*c)).count();
    let has_nul = text.contains('\u{0}');
    if !has_nul && (count < FEW_CONTROLS || count * 100 <= total) {
        return None;
    }
    let (index, (offset, _)) =
        text.char_indices()
            .enumerate()
            .find(|(_, (_, c))| if has_nul { *c == '\u{0}' } else { bad(*c) })?;
    let line = text[..offset].matches('\n').count() + 1;
    Some((index, line))
}

/// Why a text file was not read.
pub(super) enum TextFile {
    /// It cannot be read (the sentence says why).
    Unreadable(String),
    /// It is larger than [`MAX_TEXT_FILE`] (the sentence says how large).
    TooLarge(String),
}

/// Reads at most [`MAX_TEXT_FILE`] bytes of a text file, refusing a larger one.
pub(super) fn read_text_file(path: &Path) -> Result<Vec<u8>, TextFile> {
    let unreadable =
        |e: std::io::Error| TextFile::Unreadable(format!("cannot read the file ({e})"));
    let file = File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_TEXT_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_TEXT_FILE {
        let size = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        return Err(TextFile::TooLarge(format!(
            "it is {}, more than the {} juru reads from a text file; split it, or save it as .xlsx",
            size_text(size),
            size_text(MAX_TEXT_FILE)
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn numbers_and_sizes_read_well() {
        assert_eq!(count_text(0), "0");
        assert_eq!(count_text(999), "999");
        assert_eq!(count_text(1000), "1,000");
        assert_eq!(count_text(4_000_000), "4,000,000");
        assert_eq!(size_text(5), "5 bytes");
        assert_eq!(size_text(2048), "2 KB");
        assert_eq!(size_text(MAX_UNPACKED), "256.0 MB");
    }

    #[test]
    fn files_are_named_for_what_they_are() {
        assert_eq!(looks_like(b"\x89PNG\r\n\x1a\n...."), Some("a PNG image"));
        assert_eq!(looks_like(b"%PDF-1.7\n"), Some("a PDF document"));
        assert_eq!(
            looks_like(b"\xEF\xBB\xBF <!DOCTYPE html><html>"),
            Some("an HTML web page")
        );
        assert_eq!(
            looks_like(b"<?xml version=\"1.0\"?>\n<?mso-application progid=\"Excel.Sheet\"?>"),
            Some("an Excel 2003 XML spreadsheet")
        );
        assert_eq!(
            looks_like(b"<?xml version=\"1.0\"?><a/>"),
            Some("an XML file")
        );
        assert_eq!(looks_like(b"NIK;Nama\r\n1;Ani\r\n"), Some("text"));
        assert_eq!(looks_like(b"\x01\x02\x03\x00garbage"), None);
        assert_eq!(looks_like(b""), None);
        assert_eq!(expected_kind("xlsx"), "an xlsx workbook");
        assert_eq!(expected_kind("csv"), "a csv file");
    }

    #[test]
    fn zip_parts_are_held_to_what_deflate_can_do() {
        let ok = |packed, unpacked| {
            check_part("x", CompressionMethod::Deflated, packed, unpacked, 1 << 40)
        };
        assert!(ok(1_000_000, 20_000_000).is_ok(), "20 times: a sheet");
        assert!(ok(10, 3_000).is_ok(), "a small part packs well");
        let refused = |r| matches!(r, Err(ZipProblem::Refused(m)) if m.contains("zip bomb"));
        let damaged = |r| matches!(r, Err(ZipProblem::Open(m)) if m.contains("cannot be"));
        assert!(refused(ok(300_000, 300 * MB)));
        assert!(damaged(ok(5_000, 10)));
        assert!(damaged(ok(1_000, 10 * MB)), "more than deflate can pack");
        assert!(damaged(check_part(
            "x",
            CompressionMethod::Stored,
            10,
            11,
            100
        )));
        assert!(
            damaged(check_part("x", CompressionMethod::Stored, 1000, 1000, 100)),
            "larger than the file"
        );
    }

    #[test]
    fn zip_kinds() {
        let names = |n: &[&str]| {
            n.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .into_iter()
        };
        assert_eq!(
            zip_kind(names(&["[Content_Types].xml", "xl/workbook.xml"])),
            Ok(Container::OfficeOpenXml)
        );
        assert_eq!(
            zip_kind(names(&["mimetype", "content.xml"])),
            Ok(Container::OpenDocument)
        );
        assert_eq!(
            zip_kind(names(&["[Content_Types].xml", "word/document.xml"])),
            Err("a Word document (.docx)")
        );
        assert_eq!(
            zip_kind(names(&["a.txt"])),
            Err("a zip archive of other files")
        );
    }

    #[test]
    fn binary_bytes_are_found_with_their_line() {
        assert_eq!(binary_at(b"NIK,Nama\n1,Ani\n"), None);
        assert_eq!(binary_at(b"a,b\n1,2\n\x1a"), None, "a DOS end-of-file mark");
        assert_eq!(binary_at(b"a,b\n1,\x002\n"), Some((6, 2, 0)));
        let noisy: Vec<u8> = b"ab\x01\x02\x03\x04cd\n".repeat(3);
        assert_eq!(binary_at(&noisy), Some((2, 1, 1)));
        assert_eq!(binary_text_at("NIK\nAni\n"), None);
        assert_eq!(binary_text_at("NIK\nA\u{0}ni\n"), Some((5, 2)));
    }

    #[test]
    fn ods_repeats_are_counted_as_calamine_lays_them_out() {
        let doc = |body: &str| {
            format!(
                r#"<office:document-content xmlns:office="o" xmlns:table="t" xmlns:text="x"><office:body><office:spreadsheet>{body}</office:spreadsheet></office:body></office:document-content>"#
            )
        };
        // LibreOffice's own padding: empty cells and rows repeated to the sheet's end.
        let normal = doc(
            r#"<table:table table:name="Data"><table:table-row><table:table-cell office:value-type="string"><text:p>NIK</text:p></table:table-cell><table:table-cell table:number-columns-repeated="1023"/></table:table-row><table:table-row table:number-rows-repeated="1048575"><table:table-cell table:number-columns-repeated="1024"/></table:table-row></table:table>"#,
        );
        let (_, cells) = ods_cells(normal.as_bytes()).unwrap();
        assert_eq!(cells, 2, "one cell read, one laid out");

        let bomb = doc(
            r#"<table:table table:name="Bom"><table:table-row table:number-rows-repeated="1000"><table:table-cell table:number-columns-repeated="16384" office:value-type="float" office:value="1"/></table:table-row></table:table>"#,
        );
        let (sheet, cells) = ods_cells(bomb.as_bytes()).unwrap();
        assert_eq!(sheet, "Bom");
        assert_eq!(cells, 16_384 + 1000 * 16_384);
    }
}
