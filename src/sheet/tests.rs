//! Tests against real files in a temporary folder.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rust_xlsxwriter::{Formula, Workbook};
use tempfile::TempDir;

use super::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn table(headers: &[&str]) -> Table {
    Table {
        path: PathBuf::from("x.xlsx"),
        sheet: "Sheet1".into(),
        headers: strings(headers),
        rows: Vec::new(),
    }
}

/// The files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn write_then_read_back_every_kind_of_cell() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("output.xlsx");
    let at = date(2024, 3, 1).and_hms_opt(8, 30, 15).unwrap();

    let headers = strings(&[
        "NIK", "Nama", "Jumlah", "Nilai", "Lunas", "Tanggal", "Waktu", "Bukti", "Status",
    ]);
    let row1 = vec![
        text("3201010101010001"),
        text("Budi Santoso"),
        Cell::Int(42),
        Cell::Float(1234.5),
        Cell::Bool(true),
        Cell::Date(date(2024, 1, 31)),
        Cell::DateTime(at),
        Cell::Link {
            target: "screenshots/item-1.png".into(),
            text: "lihat".into(),
        },
        text("OK"),
    ];
    let row2 = vec![
        text("3201010101010002"),
        Cell::Empty, // empty in the middle of a row
        Cell::Int(-7),
        Cell::Float(0.1),
        Cell::Bool(false),
        Cell::Date(date(1999, 12, 31)),
        Cell::DateTime(date(2030, 6, 15).and_hms_opt(23, 59, 59).unwrap()),
        Cell::Link {
            target: "https://example.go.id/p?id=2".into(),
            text: "portal".into(),
        },
        text("Gagal"),
    ];
    let first = OutSheet {
        name: "Hasil".into(),
        headers: strings(&["A"]),
        rows: vec![OutRow {
            cells: vec![Cell::Int(1)],
            tone: None,
        }],
        tone_column: None,
    };
    let second = OutSheet {
        name: "Rekap".into(),
        headers: headers.clone(),
        rows: vec![
            OutRow {
                cells: row1.clone(),
                tone: Some(Tone::Good),
            },
            OutRow {
                cells: row2.clone(),
                tone: Some(Tone::Bad),
            },
            OutRow {
                cells: vec![text("3201010101010003")],
                tone: Some(Tone::Warning), // shorter than the tone column
            },
        ],
        tone_column: Some(8),
    };
    write(&path, &[first, second]).unwrap();
    assert_eq!(listing(dir.path()), ["output.xlsx"], "no temp file is left");

    let t = read(&path, Some("Rekap")).unwrap();
    assert_eq!(t.sheet, "Rekap");
    assert_eq!(t.path, path);
    assert_eq!(t.headers, headers);
    assert_eq!(t.rows.len(), 3);
    assert_eq!(t.rows[0].number, 2);
    assert_eq!(t.rows[1].number, 3);
    assert_eq!(t.rows[2].number, 4);

    // Links read back as their text; everything else as written.
    let mut expected1 = row1;
    expected1[7] = text("lihat");
    let mut expected2 = row2;
    expected2[7] = text("portal");
    assert_eq!(t.rows[0].cells, expected1);
    assert_eq!(t.rows[1].cells, expected2);
    let mut expected3 = vec![Cell::Empty; headers.len()];
    expected3[0] = text("3201010101010003");
    assert_eq!(t.rows[2].cells, expected3);

    // The first sheet is the default one.
    let t = read(&path, None).unwrap();
    assert_eq!(t.sheet, "Hasil");
    assert_eq!(t.headers, ["A"]);
    assert_eq!(t.rows[0].cells, [Cell::Int(1)]);

    // Sheet names match case-insensitively too.
    assert_eq!(read(&path, Some("rekap")).unwrap().sheet, "Rekap");

    // Writing again replaces the file.
    write(
        &path,
        &[OutSheet {
            name: "Baru".into(),
            headers: strings(&["X"]),
            ..OutSheet::default()
        }],
    )
    .unwrap();
    let t = read(&path, None).unwrap();
    assert_eq!(t.sheet, "Baru");
    assert!(t.rows.is_empty());
    assert_eq!(listing(dir.path()), ["output.xlsx"]);
}

#[test]
fn odd_values_are_written_as_text() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("odd.xlsx");
    let sheet = OutSheet {
        name: "Bad/Name?".into(),
        headers: strings(&["v"]),
        rows: vec![
            OutRow {
                cells: vec![Cell::Int(i64::MAX)],
                tone: None,
            },
            OutRow {
                cells: vec![Cell::Float(f64::NAN)],
                tone: None,
            },
            OutRow {
                cells: vec![Cell::Date(date(1850, 1, 2))],
                tone: None,
            },
            OutRow {
                cells: vec![Cell::Link {
                    target: String::new(),
                    text: "no target".into(),
                }],
                tone: None,
            },
        ],
        tone_column: None,
    };
    write(&path, &[sheet]).unwrap();
    let t = read(&path, Some("Bad-Name-")).unwrap();
    let cells: Vec<Cell> = t.rows.iter().map(|r| r.cells[0].clone()).collect();
    assert_eq!(
        cells,
        [
            text("9223372036854775807"),
            text("NaN"),
            text("02/01/1850"),
            text("no target"),
        ]
    );
}

#[test]
fn header_below_blank_rows_and_blank_rows_skipped() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("input.xlsx");
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("Data").unwrap();
    // Rows 1-2 blank, header in row 3 starting at column B, with an empty
    // header cell in column C.
    ws.write_string(2, 1, "  NIK ").unwrap();
    ws.write_string(2, 3, "Nama").unwrap();
    ws.write_string(3, 1, "3201010101010001").unwrap();
    ws.write_string(3, 2, "x").unwrap();
    ws.write_string(3, 3, "  Ani  ").unwrap();
    // Row 5 blank; row 6 only spaces (blank too).
    ws.write_string(5, 3, "   ").unwrap();
    ws.write_number(6, 1, 12.0).unwrap();
    ws.write_string(6, 3, "Budi").unwrap();
    // A formula whose cached result is an error value.
    ws.write_formula(7, 1, Formula::new("=NA()").set_result("#N/A"))
        .unwrap();
    wb.save(&path).unwrap();

    let t = read(&path, Some("Data")).unwrap();
    assert_eq!(t.headers, ["NIK", "Kolom 3", "Nama"]);
    let numbers: Vec<u32> = t.rows.iter().map(|r| r.number).collect();
    assert_eq!(numbers, [4, 7, 8]);
    assert_eq!(
        t.rows[0].cells,
        [text("3201010101010001"), text("x"), text("Ani")]
    );
    assert_eq!(t.rows[1].cells, [Cell::Int(12), Cell::Empty, text("Budi")]);
    assert_eq!(t.rows[2].cells, [text("#N/A"), Cell::Empty, Cell::Empty]);
    assert_eq!(t.column("nik"), Some(0));
    assert_eq!(t.column("kolom 3"), Some(1));
}

#[test]
fn missing_file_is_not_found() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("inbox").join("x.xlsx");
    let err = read(&path, None).unwrap_err();
    assert!(matches!(err, SheetError::NotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("input workbook {} does not exist", path.display())
    );
}

#[test]
fn garbage_is_open_error() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("x.xlsx");
    std::fs::write(&path, b"this is not a spreadsheet at all\x00\x01\x02").unwrap();
    let err = read(&path, None).unwrap_err();
    assert!(matches!(err, SheetError::Open { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("cannot open workbook {}: ", path.display())),
        "{message}"
    );
    assert!(message.contains("damaged"), "{message}");

    // An unknown kind of file says which formats are supported.
    let path = dir.path().join("x.csv");
    std::fs::write(&path, "a,b\n1,2\n").unwrap();
    let err = read(&path, None).unwrap_err();
    assert!(matches!(err, SheetError::Open { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(".xlsx, .xlsm, .xls, .xlsb and .ods"),
        "{err}"
    );

    // A folder is not a workbook.
    let err = read(dir.path(), None).unwrap_err();
    assert!(matches!(err, SheetError::Open { .. }), "{err:?}");
}

#[test]
fn missing_sheet_lists_the_available_ones() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("x.xlsx");
    let sheets: Vec<OutSheet> = ["Sheet1", "Rekap"]
        .iter()
        .map(|n| OutSheet {
            name: n.to_string(),
            headers: strings(&["A"]),
            ..OutSheet::default()
        })
        .collect();
    write(&path, &sheets).unwrap();
    let err = read(&path, Some("Data")).unwrap_err();
    match &err {
        SheetError::NoSheet {
            sheet, available, ..
        } => {
            assert_eq!(sheet, "Data");
            assert_eq!(available, &strings(&["Sheet1", "Rekap"]));
        }
        other => panic!("expected NoSheet, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "workbook {} has no sheet \"Data\"; its sheets are: \"Sheet1\", \"Rekap\"",
            path.display()
        )
    );
}

#[test]
fn empty_sheet_is_empty_error() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("x.xlsx");
    let mut wb = Workbook::new();
    wb.add_worksheet().set_name("Kosong").unwrap();
    let ws = wb.add_worksheet().set_name("Spasi").unwrap();
    ws.write_string(4, 4, "   ").unwrap();
    wb.save(&path).unwrap();

    for name in ["Kosong", "Spasi"] {
        let err = read(&path, Some(name)).unwrap_err();
        assert!(matches!(err, SheetError::Empty { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "sheet \"{name}\" of workbook {} is empty: expected a header row",
                path.display()
            )
        );
    }

    // So is a workbook written with no sheets at all (it gets one empty sheet).
    let path = dir.path().join("none.xlsx");
    write(&path, &[]).unwrap();
    let err = read(&path, None).unwrap_err();
    assert!(matches!(err, SheetError::Empty { .. }), "{err:?}");
}

#[test]
fn write_into_missing_folder_fails_and_leaves_nothing() {
    let dir = TempDir::new().unwrap();
    let folder = dir.path().join("var").join("runs");
    let path = folder.join("output.xlsx");
    let sheet = OutSheet {
        name: "Hasil".into(),
        headers: strings(&["A"]),
        ..OutSheet::default()
    };
    let err = write(&path, &[sheet]).unwrap_err();
    assert!(matches!(err, SheetError::Write { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("cannot write workbook {}: ", path.display())),
        "{message}"
    );
    assert!(message.contains("does not exist"), "{message}");
    assert!(!path.exists());
    assert!(!folder.exists());
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn failed_rename_leaves_no_temp_file() {
    // The target is a non-empty folder, so the final rename fails after the
    // temp file was written.
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("output.xlsx");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("keep"), b"x").unwrap();
    let err = write(&path, &[OutSheet::default()]).unwrap_err();
    assert!(matches!(err, SheetError::Write { .. }), "{err:?}");
    assert_eq!(listing(dir.path()), ["output.xlsx"]);
}

#[test]
fn column_and_missing_match_loosely() {
    let t = table(&["NIK", " Nama Lengkap ", "Tanggal Lahir", "Status"]);
    assert_eq!(t.column("nik"), Some(0));
    assert_eq!(t.column("  NAMA LENGKAP"), Some(1));
    assert_eq!(t.column("tanggal lahir "), Some(2));
    assert_eq!(t.column("Tanggal"), None);
    assert_eq!(t.column("NamaLengkap"), None);
    assert_eq!(
        t.missing(&strings(&["Alamat", " nik", "Kecamatan", "STATUS"])),
        strings(&["Alamat", "Kecamatan"])
    );
    assert!(t.missing(&[]).is_empty());
}

#[test]
fn to_text_for_every_kind() {
    assert_eq!(Cell::Empty.to_text(), "");
    assert_eq!(text("  as is ").to_text(), "  as is ");
    assert_eq!(Cell::Int(-1234567890123).to_text(), "-1234567890123");
    assert_eq!(Cell::Float(3.0).to_text(), "3");
    assert_eq!(Cell::Float(-0.0).to_text(), "0");
    assert_eq!(Cell::Float(2.5).to_text(), "2.5");
    assert_eq!(Cell::Float(0.1 + 0.2).to_text(), "0.30000000000000004");
    assert_eq!(Cell::Float(1e15).to_text(), "1000000000000000");
    assert_eq!(Cell::Bool(true).to_text(), "TRUE");
    assert_eq!(Cell::Bool(false).to_text(), "FALSE");
    assert_eq!(Cell::Date(date(2024, 3, 1)).to_text(), "01/03/2024");
    assert_eq!(
        Cell::DateTime(date(2024, 3, 1).and_hms_opt(8, 5, 9).unwrap()).to_text(),
        "01/03/2024 08:05:09"
    );
    let link = Cell::Link {
        target: "screenshots/item-3.png".into(),
        text: "Bukti".into(),
    };
    assert_eq!(link.to_text(), "Bukti");
    assert_eq!(format!("{link}"), "Bukti");
    assert_eq!(format!("[{:>6}]", Cell::Int(42)), "[    42]");
    assert_eq!(Cell::Date(date(2024, 12, 25)).to_string(), "25/12/2024");

    assert!(Cell::Empty.is_empty());
    assert!(text("  ").is_empty());
    assert!(!text("0").is_empty());
    assert!(!Cell::Int(0).is_empty());
}
