//! The check made before an old-style .xls workbook is read: its sheets are
//! laid out from the row and column numbers their records name (calamine
//! makes one dense block of cells per sheet, and reserves what a sheet's
//! DIMENSIONS record declares), so a file of a few hundred bytes can name
//! cell IV65536 and ask for gigabytes. This reads the file's compound-file
//! container and the workbook stream's records, building nothing, and refuses
//! a workbook whose sheets would take more than [`MAX_CELLS`] cells.
//!
//! Anything this cannot make sense of is left to the workbook reader, which
//! says how the file is damaged (or that it is password-protected).

use std::path::Path;

use super::guard::{count_text, size_text, MAX_CELLS, MAX_UNPACKED};

const END_OF_CHAIN: u32 = 0xFFFF_FFFE;

/// `Err(reason)` when the workbook would be too large to read.
pub(super) fn check(path: &Path) -> Result<(), String> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_UNPACKED {
        return Err(format!(
            "it is {}, more than the {} juru reads from one workbook; split it into smaller workbooks",
            size_text(size),
            size_text(MAX_UNPACKED)
        ));
    }
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(());
    };
    let Some(stream) = workbook_stream(&bytes) else {
        return Ok(());
    };
    match layout(&stream) {
        Some(Layout::Sheet { name, cells }) => Err(format!(
            "sheet \"{name}\" would be laid out as {} cells (from its first to its last row and column used), more than the {} juru reads from one sheet",
            count_text(cells),
            count_text(MAX_CELLS as u64)
        )),
        Some(Layout::Total(cells)) => Err(format!(
            "its sheets together would be laid out as {} cells, more than the {} juru reads from one workbook",
            count_text(cells),
            count_text(MAX_CELLS as u64)
        )),
        None => Ok(()),
    }
}

/// What is too large.
#[derive(Debug, PartialEq)]
enum Layout {
    Sheet { name: String, cells: u64 },
    Total(u64),
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The `Workbook` (or BIFF5 `Book`) stream of a compound file (MS-CFB).
fn workbook_stream(file: &[u8]) -> Option<Vec<u8>> {
    let header = file.get(..512)?;
    let shift = u32::from(u16_at(header, 30)?);
    if !(9..=12).contains(&shift) {
        return None;
    }
    let sector_size = 1usize << shift;
    let mini_shift = u32::from(u16_at(header, 32)?).min(12);
    let fat_sectors = u32_at(header, 44)? as usize;
    let first_dir = u32_at(header, 48)?;
    let cutoff = u64::from(u32_at(header, 56)?);
    let first_minifat = u32_at(header, 60)?;
    let first_difat = u32_at(header, 68)?;
    let difat_sectors = u32_at(header, 72)? as usize;
    let sectors_in_file = file.len() / sector_size;

    let sector = |id: u32| -> Option<&[u8]> {
        let start = (id as usize).checked_add(1)?.checked_mul(sector_size)?;
        let end = start.checked_add(sector_size)?.min(file.len());
        file.get(start..end)
    };

    // The FAT: its sectors listed in the header, then in the DIFAT chain.
    let mut fat_ids: Vec<u32> = (0..109.min(fat_sectors))
        .filter_map(|i| u32_at(header, 76 + 4 * i))
        .collect();
    let mut difat = first_difat;
    for _ in 0..difat_sectors.min(sectors_in_file) {
        if fat_ids.len() >= fat_sectors || difat >= END_OF_CHAIN {
            break;
        }
        let s = sector(difat)?;
        let per = s.len() / 4;
        fat_ids.extend((0..per.saturating_sub(1)).filter_map(|i| u32_at(s, 4 * i)));
        difat = u32_at(s, 4 * per.checked_sub(1)?)?;
    }
    fat_ids.truncate(fat_sectors.min(sectors_in_file));
    let mut fat: Vec<u32> = Vec::with_capacity(fat_ids.len() * sector_size / 4);
    for id in fat_ids {
        let s = sector(id)?;
        fat.extend((0..s.len() / 4).filter_map(|i| u32_at(s, 4 * i)));
    }

    let chain = |start: u32, want: usize| -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut id = start;
        let mut steps = 0usize;
        while id != END_OF_CHAIN && out.len() < want {
            steps += 1;
            if steps > fat.len() + 1 {
                return None; // a loop
            }
            out.extend_from_slice(sector(id)?);
            id = *fat.get(id as usize)?;
        }
        Some(out)
    };

    let dir = chain(first_dir, usize::MAX)?;
    let entry = |i: usize| dir.get(i * 128..(i + 1) * 128);
    let name_of = |e: &[u8]| -> String {
        let len = usize::from(u16_at(e, 64).unwrap_or(0)).min(64);
        let units: Vec<u16> = (0..len / 2)
            .filter_map(|i| u16_at(e, 2 * i))
            .take_while(|u| *u != 0)
            .collect();
        String::from_utf16_lossy(&units)
    };
    let found = (0..dir.len() / 128)
        .filter_map(entry)
        .find(|e| e.get(66) == Some(&2) && matches!(name_of(e).as_str(), "Workbook" | "Book"))?;
    let start = u32_at(found, 116)?;
    let mut size = u64::from(u32_at(found, 120)?);
    if shift == 12 {
        size |= u64::from(u32_at(found, 124)?) << 32;
    }
    let size = usize::try_from(size.min(file.len() as u64)).ok()?;

    if (size as u64) < cutoff {
        // A small stream lives in the mini stream, in 64-byte sectors.
        let root = entry(0)?;
        let mini = chain(u32_at(root, 116)?, usize::MAX)?;
        let minifat_bytes = chain(first_minifat, usize::MAX)?;
        let minifat: Vec<u32> = (0..minifat_bytes.len() / 4)
            .filter_map(|i| u32_at(&minifat_bytes, 4 * i))
            .collect();
        let mini_size = 1usize << mini_shift;
        let mut out = Vec::with_capacity(size);
        let mut id = start;
        let mut steps = 0usize;
        while id != END_OF_CHAIN && out.len() < size {
            steps += 1;
            if steps > minifat.len() + 1 {
                return None;
            }
            let at = (id as usize).checked_mul(mini_size)?;
            out.extend_from_slice(mini.get(at..at + mini_size)?);
            id = *minifat.get(id as usize)?;
        }
        out.truncate(size);
        Some(out)
    } else {
        let mut out = chain(start, size)?;
        out.truncate(size);
        Some(out)
    }
}

/// The records of a BIFF stream from `at`: `(type, data)`.
fn records(stream: &[u8], at: usize) -> impl Iterator<Item = (u16, &[u8])> {
    let mut pos = at;
    std::iter::from_fn(move || {
        let typ = u16_at(stream, pos)?;
        let len = usize::from(u16_at(stream, pos + 2)?);
        let data = stream.get(pos + 4..pos + 4 + len)?;
        pos += 4 + len;
        Some((typ, data))
    })
}

/// The cells calamine would lay out for the workbook's sheets, when too many.
fn layout(stream: &[u8]) -> Option<Layout> {
    // The globals: where each sheet starts, and its name.
    let mut sheets: Vec<(usize, String)> = Vec::new();
    for (typ, data) in records(stream, 0) {
        match typ {
            // FilePass: encrypted; the reader says it is password-protected.
            0x002F => return None,
            0x0085 => {
                let pos = u32_at(data, 0)? as usize;
                sheets.push((
                    pos,
                    sheet_name(data).unwrap_or_else(|| format!("{}", sheets.len() + 1)),
                ));
            }
            0x000A => break,
            _ => {}
        }
    }
    let mut total: u64 = 0;
    for (pos, name) in sheets {
        let cells = sheet_cells(stream, pos);
        if cells > MAX_CELLS as u64 {
            return Some(Layout::Sheet { name, cells });
        }
        total = total.saturating_add(cells);
    }
    (total > MAX_CELLS as u64).then_some(Layout::Total(total))
}

/// A BoundSheet8 record's name (BIFF8: a length, a flag for two-byte
/// characters, the characters; BIFF5: a length and single bytes).
fn sheet_name(data: &[u8]) -> Option<String> {
    let len = usize::from(*data.get(6)?);
    let name = match data.get(7) {
        Some(0) if data.len() == 8 + len => {
            String::from_utf8_lossy(data.get(8..8 + len)?).into_owned()
        }
        Some(1) if data.len() == 8 + 2 * len => {
            let units: Vec<u16> = (0..len).filter_map(|i| u16_at(data, 8 + 2 * i)).collect();
            String::from_utf16_lossy(&units)
        }
        _ => String::from_utf8_lossy(data.get(7..7 + len)?).into_owned(),
    };
    Some(name.replace('\0', ""))
}

/// The cells calamine lays out for the sheet whose substream starts at `pos`:
/// the block from its first to its last row and column used, or what its
/// DIMENSIONS record declares, whichever is larger.
fn sheet_cells(stream: &[u8], pos: usize) -> u64 {
    let mut declared: u64 = 0;
    let mut rows = (u32::MAX, 0u32);
    let mut cols = (u32::MAX, 0u32);
    let mut seen = false;
    let mut depth = 0usize;
    let mut own_bof = false;
    let mut note = |row: Option<u16>, first: Option<u16>, last: Option<u16>| {
        if let (Some(r), Some(f), Some(l)) = (row, first, last) {
            rows = (rows.0.min(r.into()), rows.1.max(r.into()));
            cols = (cols.0.min(f.into()), cols.1.max(l.into()));
            seen = true;
        }
    };
    for (typ, data) in records(stream, pos) {
        if depth > 0 {
            match typ {
                0x0809 => depth += 1,
                0x000A => depth -= 1,
                _ => {}
            }
            continue;
        }
        match typ {
            0x0809 if own_bof => depth += 1,
            0x0809 => own_bof = true,
            0x0200 => declared = declared.max(dimensions(data)),
            // Number, Label, RString, BoolErr, Formula, RK, LabelSst.
            0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x0006 | 0x027E | 0x00FD => {
                note(u16_at(data, 0), u16_at(data, 2), u16_at(data, 2));
            }
            // MulRk: a row, the first column, values, the last column.
            0x00BD => note(
                u16_at(data, 0),
                u16_at(data, 2),
                data.len().checked_sub(2).and_then(|at| u16_at(data, at)),
            ),
            0x000A => break,
            _ => {}
        }
    }
    let used = if seen {
        u64::from(rows.1 - rows.0 + 1) * u64::from(cols.1 - cols.0 + 1)
    } else {
        0
    };
    used.max(declared)
}

/// The cells a DIMENSIONS record declares, read as calamine reads it.
fn dimensions(data: &[u8]) -> u64 {
    let (first_row, last_row, mut first_col, last_col) = match data.len() {
        10 => (
            u32::from(u16_at(data, 0).unwrap_or(0)),
            u32::from(u16_at(data, 2).unwrap_or(0)),
            u32::from(u16_at(data, 4).unwrap_or(0)),
            u32::from(u16_at(data, 6).unwrap_or(0)),
        ),
        14 | 16 => (
            u32_at(data, 0).unwrap_or(0),
            u32_at(data, 4).unwrap_or(0),
            u32::from(u16_at(data, 8).unwrap_or(0)),
            u32::from(u16_at(data, 10).unwrap_or(0)),
        ),
        _ => return 0,
    };
    if first_col > 0xFF || last_col < first_col {
        first_col = 0;
    }
    if last_row >= 1 && last_col >= 1 {
        let rows = u64::from(last_row.saturating_sub(1)).saturating_sub(first_row.into()) + 1;
        let cols = u64::from(last_col.saturating_sub(1)).saturating_sub(first_col.into()) + 1;
        rows * cols
    } else {
        1
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn record(typ: u16, data: &[u8]) -> Vec<u8> {
        let mut r = typ.to_le_bytes().to_vec();
        r.extend((data.len() as u16).to_le_bytes());
        r.extend(data);
        r
    }

    fn cell(row: u16, col: u16) -> Vec<u8> {
        let mut d = row.to_le_bytes().to_vec();
        d.extend(col.to_le_bytes());
        d.extend([0u8; 10]);
        record(0x0203, &d)
    }

    /// A BIFF8 stream: globals naming one sheet "Data", then the sheet.
    fn stream(sheet: &[Vec<u8>]) -> Vec<u8> {
        let name = b"Data";
        let mut bound = vec![0u8; 6];
        bound.push(name.len() as u8);
        bound.push(0);
        bound.extend(name);
        let bof = record(0x0809, &[0u8; 16]);
        let mut globals = bof.clone();
        let bound_at = globals.len();
        globals.extend(record(0x0085, &bound));
        globals.extend(record(0x000A, &[]));
        let sheet_at = globals.len() as u32;
        globals[bound_at + 4..bound_at + 8].copy_from_slice(&sheet_at.to_le_bytes());
        globals.extend(bof);
        for r in sheet {
            globals.extend(r);
        }
        globals.extend(record(0x000A, &[]));
        globals
    }

    #[test]
    fn sheets_are_measured_by_the_cells_they_name() {
        let small = stream(&[cell(0, 0), cell(99, 11)]);
        assert_eq!(sheet_cells(&small, layout_pos(&small)), 1200);
        assert_eq!(layout(&small), None);

        let far = stream(&[cell(0, 0), cell(65_535, 255)]);
        assert_eq!(
            layout(&far),
            Some(Layout::Sheet {
                name: "Data".into(),
                cells: 65_536 * 256
            })
        );

        let mut dims = 0u32.to_le_bytes().to_vec();
        dims.extend(u32::MAX.to_le_bytes());
        dims.extend([0, 0, 0xFF, 0xFF, 0, 0]);
        let lying = stream(&[record(0x0200, &dims), cell(0, 0)]);
        assert!(matches!(layout(&lying), Some(Layout::Sheet { .. })));
    }

    fn layout_pos(stream: &[u8]) -> usize {
        records(stream, 0)
            .find(|(t, _)| *t == 0x0085)
            .and_then(|(_, d)| u32_at(d, 0))
            .unwrap() as usize
    }
}
