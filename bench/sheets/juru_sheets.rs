//! The juru side of the spreadsheet benchmark (`bench/sheets/run.sh`).
//!
//! ```text
//! juru_sheets gen FILE ROWS     write the input workbook (12 columns), as Excel
//!                               stores one (shared strings, date formats)
//! juru_sheets read FILE         read it as a bot's input: header found, values typed,
//!                               six columns declared (nik, nip, date, rupiah, yes_no)
//! juru_sheets write FILE ROWS   write an output workbook of ROWS rows (12 columns:
//!                               bold frozen header, filters, fitted widths, date
//!                               formats, coloured status cells)
//! ```
//!
//! `read` and `write` print one line of JSON: `{"op": ..., "rows": ..., "seconds": ...}`,
//! the seconds being those of the operation alone (the rows to write are made in
//! memory first, as `bench/sheets/openpyxl_side.py` does for openpyxl).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use juru::sheet::{self, Cell, ColumnType, OutRow, OutSheet, ReadOptions, Tone};

const HEADERS: [&str; 12] = [
    "No",
    "NIK",
    "NIP",
    "Nama",
    "Alamat",
    "Kecamatan",
    "Tanggal Lahir",
    "Tanggal Pengajuan",
    "Jumlah",
    "Lunas",
    "Status",
    "Keterangan",
];
const KECAMATAN: [&str; 5] = [
    "Cibinong",
    "Gunung Putri",
    "Citeureup",
    "Sukaraja",
    "Babakan Madang",
];
const STATUS: [&str; 3] = ["BARU", "SELESAI", "DITOLAK"];

/// Row `i` of the benchmark data; `openpyxl_side.py` makes the same rows.
fn row(i: u64) -> Vec<Cell> {
    let day = |y, m, d, plus: u64| {
        let start = NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        start + Duration::days(plus as i64)
    };
    vec![
        Cell::Int(i as i64 + 1),
        Cell::Text((3_201_010_000_000_000 + i).to_string()),
        Cell::Text((199_001_012_022_000_000 + i).to_string()),
        Cell::Text(format!("Pemohon {i}")),
        Cell::Text(format!(
            "Jl. Merdeka No. {}, RT {:03}/RW {:03}",
            i % 500,
            i % 17,
            i % 9
        )),
        Cell::Text(KECAMATAN[(i % 5) as usize].to_string()),
        Cell::Date(day(1960, 1, 1, i * 37 % 20_000)),
        Cell::Date(day(2024, 1, 1, i % 366)),
        Cell::Float((i % 1000) as f64 * 1250.5),
        Cell::Bool(i.is_multiple_of(3)),
        Cell::Text(STATUS[(i % 3) as usize].to_string()),
        if i.is_multiple_of(4) {
            Cell::Empty
        } else {
            Cell::Text(format!("Catatan nomor {i}"))
        },
    ]
}

fn out_sheet(rows: u64) -> OutSheet {
    OutSheet {
        name: "Hasil".into(),
        headers: HEADERS.iter().map(|h| h.to_string()).collect(),
        rows: (0..rows)
            .map(|i| OutRow {
                cells: row(i),
                tone: Some(match i % 3 {
                    0 => Tone::Good,
                    1 => Tone::Warning,
                    _ => Tone::Bad,
                }),
            })
            .collect(),
        tone_column: Some(10),
    }
}

/// The input workbook, written the way Excel stores text (a shared-strings
/// table), with a bold header and dates formatted as dates.
fn generate(path: &Path, rows: u64) -> Result<(), rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("Permohonan")?;
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for i in 0..rows {
        let r = i as u32 + 1;
        for (c, cell) in row(i).into_iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Int(v) => ws.write_number(r, c, v as f64)?,
                Cell::Float(v) => ws.write_number(r, c, v)?,
                Cell::Bool(v) => ws.write_boolean(r, c, v)?,
                Cell::Text(t) => ws.write_string(r, c, t)?,
                Cell::Date(d) => {
                    let at = ExcelDateTime::parse_from_str(&d.format("%Y-%m-%d").to_string())?;
                    ws.write_datetime_with_format(r, c, &at, &date)?
                }
                _ => ws,
            };
        }
    }
    wb.save(path)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows = |s: Option<&String>| s.and_then(|r| r.parse::<u64>().ok());
    let result = match (args.first().map(String::as_str), args.get(1)) {
        (Some("gen"), Some(file)) => match rows(args.get(2)) {
            Some(n) => generate(Path::new(file), n).map_err(|e| e.to_string()),
            None => Err("gen FILE ROWS: ROWS must be a number".into()),
        },
        (Some("read"), Some(file)) => {
            let t0 = Instant::now();
            // Read as a bot that declares its columns' types reads it.
            let declared = [
                ("NIK", ColumnType::Nik),
                ("NIP", ColumnType::Nip),
                ("Tanggal Lahir", ColumnType::Date),
                ("Tanggal Pengajuan", ColumnType::Date),
                ("Jumlah", ColumnType::Rupiah),
                ("Lunas", ColumnType::YesNo),
            ];
            let options = ReadOptions {
                columns: declared.iter().map(|(c, t)| (c.to_string(), *t)).collect(),
                ..ReadOptions::default()
            };
            sheet::read_with(Path::new(file), &options)
                .map(|t| {
                    let seconds = t0.elapsed().as_secs_f64();
                    assert_eq!(t.headers.len(), 12, "12 columns");
                    assert!(
                        t.rows.iter().all(|r| r.problems.is_empty()),
                        "every value passes its type"
                    );
                    assert!(t.passed_over.is_empty(), "every row is a record");
                    println!(
                        "{{\"op\": \"read\", \"rows\": {}, \"seconds\": {seconds:.4}}}",
                        t.rows.len()
                    );
                })
                .map_err(|e| e.to_string())
        }
        (Some("write"), Some(file)) => match rows(args.get(2)) {
            Some(n) => {
                let sheet = out_sheet(n);
                let t0 = Instant::now();
                sheet::write(Path::new(file), &[sheet])
                    .map(|()| {
                        let seconds = t0.elapsed().as_secs_f64();
                        println!("{{\"op\": \"write\", \"rows\": {n}, \"seconds\": {seconds:.4}}}");
                    })
                    .map_err(|e| e.to_string())
            }
            None => Err("write FILE ROWS: ROWS must be a number".into()),
        },
        _ => Err("usage: juru_sheets gen FILE ROWS | read FILE | write FILE ROWS".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
