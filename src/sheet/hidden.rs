//! Which rows of a sheet are hidden (by an AutoFilter or by hand), for
//! `visible_only`: read from the sheet's XML, streaming, since calamine does
//! not say. Known for .xlsx/.xlsm (`<row hidden="1">`) and .ods
//! (`table:visibility="collapse"` or `"filter"`) workbooks; a .csv file hides
//! nothing. Also the booleans of an .ods sheet, which LibreOffice stores as the
//! numbers 1 and 0 marked as booleans (calamine reads the numbers). The
//! container was already inspected by [`guard`](super::guard).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use quick_xml::events::{BytesStart, Event};

/// Hidden rows as sorted ranges of 1-based row numbers (first, last).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct HiddenRows(Vec<(u32, u32)>);

impl HiddenRows {
    fn add(&mut self, first: u32, last: u32) {
        match self.0.last_mut() {
            Some((_, end)) if end.saturating_add(1) == first => *end = last,
            _ => self.0.push((first, last)),
        }
    }

    fn finish(mut self) -> HiddenRows {
        if !self.0.is_sorted() {
            self.0.sort_unstable();
        }
        self
    }

    pub(super) fn contains(&self, row: u32) -> bool {
        let i = self.0.partition_point(|(first, _)| *first <= row);
        i > 0 && self.0[i - 1].1 >= row
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The most bytes of `workbook.xml` or its relationships juru reads.
const MAX_INDEX: u64 = 16 * 1024 * 1024;

/// The attribute `name` of `e`, unescaped.
fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .filter_map(Result::ok)
        .find(|a| a.key.as_ref() == name)
        .map(|a| match quick_xml::escape::unescape(&a.value) {
            Ok(v) => v.into_owned(),
            Err(_) => a.value.into_owned(),
        })
}

fn small_part(
    archive: &mut zip::ZipArchive<BufReader<File>>,
    name: &str,
) -> Result<String, String> {
    let part = archive
        .by_name(name)
        .map_err(|e| format!("it has no readable {name} ({e})"))?;
    let mut text = String::new();
    part.take(MAX_INDEX)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read its {name} ({e})"))?;
    Ok(text)
}

/// The 1-based numbers of the hidden rows of sheet `sheet` of an .xlsx/.xlsm workbook.
pub(super) fn xlsx(path: &Path, sheet: &str) -> Result<HiddenRows, String> {
    let file = File::open(path).map_err(|e| format!("cannot read the file ({e})"))?;
    let mut archive =
        zip::ZipArchive::new(BufReader::new(file)).map_err(|e| format!("it is damaged ({e})"))?;
    let workbook = small_part(&mut archive, "xl/workbook.xml")?;
    let mut id = None;
    let mut reader = quick_xml::Reader::from_str(&workbook);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e))
                if e.local_name().as_ref() == "sheet"
                    && attr(&e, "name").as_deref() == Some(sheet) =>
            {
                id = attr(&e, "r:id").or_else(|| {
                    e.attributes()
                        .filter_map(Result::ok)
                        .find(|a| a.key.local_name().as_ref() == "id")
                        .map(|a| a.value.into_owned())
                });
                break;
            }
            Ok(Event::Eof) => break,
            Err(e) => return Err(format!("its xl/workbook.xml is damaged ({e})")),
            _ => {}
        }
    }
    let id = id.ok_or_else(|| format!("its xl/workbook.xml does not list sheet \"{sheet}\""))?;
    let rels = small_part(&mut archive, "xl/_rels/workbook.xml.rels")?;
    let mut target = None;
    let mut reader = quick_xml::Reader::from_str(&rels);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e))
                if e.local_name().as_ref() == "Relationship"
                    && attr(&e, "Id").as_deref() == Some(id.as_str()) =>
            {
                target = attr(&e, "Target");
                break;
            }
            Ok(Event::Eof) => break,
            Err(e) => return Err(format!("its xl/_rels/workbook.xml.rels is damaged ({e})")),
            _ => {}
        }
    }
    let target = target.ok_or_else(|| format!("it does not say where sheet \"{sheet}\" is"))?;
    let part = match target.strip_prefix('/') {
        Some(absolute) => absolute.to_string(),
        None => format!("xl/{target}"),
    };
    let sheet_xml = archive
        .by_name(&part)
        .map_err(|e| format!("it has no readable {part} ({e})"))?;
    xlsx_rows(BufReader::new(sheet_xml))
}

/// `<row r="7" hidden="1">` of a worksheet's XML.
fn xlsx_rows(xml: impl BufRead) -> Result<HiddenRows, String> {
    let mut hidden = HiddenRows::default();
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut next: u32 = 1;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if e.local_name().as_ref() == "row" => {
                let number = attr(&e, "r")
                    .and_then(|r| r.trim().parse::<u32>().ok())
                    .unwrap_or(next);
                next = number.saturating_add(1);
                if matches!(attr(&e, "hidden").as_deref(), Some("1" | "true")) {
                    hidden.add(number, number);
                }
            }
            Ok(Event::End(e)) if e.local_name().as_ref() == "sheetData" => break,
            Ok(Event::Eof) => break,
            Err(e) => return Err(format!("its sheet is damaged ({e})")),
            _ => {}
        }
        buf.clear();
    }
    Ok(hidden.finish())
}

/// The 1-based numbers of the hidden rows of table `sheet` of an .ods workbook.
pub(super) fn ods(path: &Path, sheet: &str) -> Result<HiddenRows, String> {
    let file = File::open(path).map_err(|e| format!("cannot read the file ({e})"))?;
    let mut archive =
        zip::ZipArchive::new(BufReader::new(file)).map_err(|e| format!("it is damaged ({e})"))?;
    let content = archive
        .by_name("content.xml")
        .map_err(|e| format!("it has no readable content.xml ({e})"))?;
    let mut reader = quick_xml::Reader::from_reader(BufReader::new(content));
    let mut buf = Vec::new();
    let mut hidden = HiddenRows::default();
    let mut in_table = false;
    let mut row: u64 = 1;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) if e.name().as_ref() == "table:table" => {
                in_table = attr(&e, "table:name").as_deref() == Some(sheet);
                row = 1;
            }
            Ok(Event::End(e)) if e.name().as_ref() == "table:table" && in_table => break,
            Ok(Event::Start(e)) | Ok(Event::Empty(e))
                if in_table && e.name().as_ref() == "table:table-row" =>
            {
                let repeats = attr(&e, "table:number-rows-repeated")
                    .and_then(|n| n.trim().parse::<u64>().ok())
                    .unwrap_or(1)
                    .max(1);
                let is_hidden = matches!(
                    attr(&e, "table:visibility").as_deref(),
                    Some("collapse" | "filter")
                );
                if is_hidden && row <= 1_048_576 {
                    // A sheet has at most 1,048,576 rows.
                    let last = (row + repeats - 1).min(1_048_576);
                    hidden.add(row as u32, last as u32);
                }
                row = row.saturating_add(repeats);
            }
            Ok(Event::Eof) => break,
            Err(e) => return Err(format!("its content.xml is damaged ({e})")),
            _ => {}
        }
        buf.clear();
    }
    Ok(hidden.finish())
}

/// The boolean cells of table `sheet` of an .ods workbook: (0-based row,
/// 0-based column, value). At most `limit` of them.
pub(super) fn ods_booleans(
    path: &Path,
    sheet: &str,
    limit: usize,
) -> Result<Vec<(u32, u32, bool)>, String> {
    let file = File::open(path).map_err(|e| format!("cannot read the file ({e})"))?;
    let mut archive =
        zip::ZipArchive::new(BufReader::new(file)).map_err(|e| format!("it is damaged ({e})"))?;
    let content = archive
        .by_name("content.xml")
        .map_err(|e| format!("it has no readable content.xml ({e})"))?;
    let mut reader = quick_xml::Reader::from_reader(BufReader::new(content));
    let mut buf = Vec::new();
    let mut found = Vec::new();
    let mut in_table = false;
    let mut row: u64 = 0;
    let mut row_repeats: u64 = 1;
    let mut col: u64 = 0;
    let repeats = |e: &BytesStart<'_>, name: &str| {
        attr(e, name)
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(1)
            .clamp(1, 1_048_576)
    };
    loop {
        let event = reader.read_event_into(&mut buf);
        match event {
            Ok(Event::Start(e)) if e.name().as_ref() == "table:table" => {
                in_table = attr(&e, "table:name").as_deref() == Some(sheet);
                row = 0;
            }
            Ok(Event::End(e)) if e.name().as_ref() == "table:table" && in_table => break,
            Ok(Event::Start(e)) if in_table && e.name().as_ref() == "table:table-row" => {
                row_repeats = repeats(&e, "table:number-rows-repeated");
                col = 0;
            }
            Ok(Event::Empty(e)) if in_table && e.name().as_ref() == "table:table-row" => {
                row = row.saturating_add(repeats(&e, "table:number-rows-repeated"));
            }
            Ok(Event::End(e)) if in_table && e.name().as_ref() == "table:table-row" => {
                row = row.saturating_add(row_repeats);
            }
            Ok(Event::Start(e)) | Ok(Event::Empty(e))
                if in_table
                    && matches!(
                        e.name().as_ref(),
                        "table:table-cell" | "table:covered-table-cell"
                    ) =>
            {
                let n = repeats(&e, "table:number-columns-repeated");
                let boolean = attr(&e, "calcext:value-type").as_deref() == Some("boolean")
                    || attr(&e, "office:value-type").as_deref() == Some("boolean");
                if boolean {
                    let value = match attr(&e, "office:boolean-value") {
                        Some(v) => v.eq_ignore_ascii_case("true"),
                        None => attr(&e, "office:value")
                            .and_then(|v| v.trim().parse::<f64>().ok())
                            .is_some_and(|x| x != 0.0),
                    };
                    'cells: for r in row..row.saturating_add(row_repeats) {
                        for c in col..col.saturating_add(n) {
                            if found.len() >= limit || r > 1_048_575 || c > 16_383 {
                                break 'cells;
                            }
                            found.push((r as u32, c as u32, value));
                        }
                    }
                }
                col = col.saturating_add(n);
            }
            Ok(Event::Eof) => break,
            Err(e) => return Err(format!("its content.xml is damaged ({e})")),
            _ => {}
        }
        buf.clear();
    }
    Ok(found)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn hidden_rows_of_a_worksheet() {
        let xml = br#"<worksheet><sheetData><row r="1"><c r="A1"/></row><row r="3" hidden="1"/><row hidden="true"></row><row r="9" hidden="0"/></sheetData><row r="10" hidden="1"/></worksheet>"#;
        let got = xlsx_rows(&xml[..]).unwrap();
        assert_eq!(got, HiddenRows(vec![(3, 4)]));
        assert!(got.contains(3) && got.contains(4));
        assert!(!got.contains(2) && !got.contains(5) && !got.contains(10));
    }
}
