//! Tests against real files in a temporary folder.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rust_xlsxwriter::{Formula, Workbook};
use tempfile::TempDir;

use super::*;
use crate::sheet::{ColumnUse, CsvOptions, Encoding, ReadOptions, SheetRef};

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
        header_row: 1,
        headers: strings(headers),
        rows: Vec::new(),
        filtered: 0,
        passed_over: Vec::new(),
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
    let path = dir.path().join("x.pdf");
    std::fs::write(&path, "%PDF-1.4\n").unwrap();
    let err = read(&path, None).unwrap_err();
    assert!(matches!(err, SheetError::Open { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open workbook {}: files of type .pdf are not supported (supported formats are .xlsx, .xlsm, .xls, .xlsb, .ods and .csv)",
            path.display()
        )
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
            assert_eq!(sheet, &SheetRef::Name("Data".into()));
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

// ---- reading as the options say ---------------------------------------------------

use rust_xlsxwriter::{ExcelDateTime, Format};

/// A workbook written with rust_xlsxwriter by `fill`, saved at `dir/name`.
fn xlsx(dir: &Path, name: &str, fill: impl FnOnce(&mut Workbook)) -> PathBuf {
    let path = dir.join(name);
    let mut wb = Workbook::new();
    fill(&mut wb);
    wb.save(&path).unwrap();
    path
}

/// No, NIK, NIP (0 = none), name, date of application, date of birth (text), status.
type ClerkRow = (
    f64,
    &'static str,
    f64,
    &'static str,
    (u16, u8, u8),
    &'static str,
    &'static str,
);

/// The form clerks send: a merged title over the table, a blank row, the
/// header (with stray spaces and a line break), typed values, a blank row in
/// the middle, then a notes line far below.
fn clerk_workbook(wb: &mut Workbook) {
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let ws = wb.add_worksheet().set_name("Permohonan").unwrap();
    ws.merge_range(
        0,
        0,
        0,
        6,
        "DAFTAR PERMOHONAN IZIN USAHA 2024",
        &Format::new(),
    )
    .unwrap();
    ws.write_string(1, 0, "Dinas Penanaman Modal").unwrap();
    let headers = [
        " No ",
        "NIK",
        "NIP Petugas",
        "Nama  Pemohon",
        "Tanggal\nPengajuan",
        "Tgl Lahir",
        "Status",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(3, c as u16, *h).unwrap();
    }
    let rows: [ClerkRow; 4] = [
        (
            1.0,
            "3201010101010001",
            199001012022011001.0,
            " Ani Lestari ",
            (2024, 3, 1),
            "31/12/1990",
            "BARU",
        ),
        (
            2.0,
            "3201010101010002",
            198512312010121002.0,
            "Budi",
            (2024, 3, 2),
            "1 Januari 1985",
            "baru ",
        ),
        (
            3.0,
            "3201010101010003",
            0.0,
            "Citra",
            (2024, 3, 3),
            "tidak tahu",
            "SELESAI",
        ),
        (
            4.0,
            "3201010101010004",
            0.0,
            "Dewi",
            (2024, 2, 29),
            "29/02/2000",
            "BARU",
        ),
    ];
    let mut r = 4;
    for (i, (no, nik, nip, nama, (y, m, d), lahir, status)) in rows.iter().enumerate() {
        if i == 2 {
            r += 1; // a blank row in the middle
        }
        ws.write_number(r, 0, *no).unwrap();
        ws.write_string(r, 1, *nik).unwrap();
        if *nip > 0.0 {
            ws.write_number(r, 2, *nip).unwrap();
        }
        ws.write_string(r, 3, *nama).unwrap();
        let at = ExcelDateTime::from_ymd(*y, *m, *d).unwrap();
        ws.write_datetime_with_format(r, 4, &at, &date).unwrap();
        ws.write_string(r, 5, *lahir).unwrap();
        ws.write_string(r, 6, *status).unwrap();
        r += 1;
    }
    let ws = wb.add_worksheet().set_name("Rekap").unwrap();
    ws.write_string(0, 0, "Jumlah").unwrap();
    ws.write_number(1, 0, 4.0).unwrap();
}

#[test]
fn header_found_under_a_merged_title_and_values_typed() {
    let dir = TempDir::new().unwrap();
    let path = xlsx(dir.path(), "masuk.xlsx", clerk_workbook);
    let t = read(&path, None).unwrap();
    assert_eq!(t.sheet, "Permohonan");
    assert_eq!(t.header_row, 4);
    assert_eq!(
        t.headers,
        [
            "No",
            "NIK",
            "NIP Petugas",
            "Nama Pemohon",
            "Tanggal Pengajuan",
            "Tgl Lahir",
            "Status"
        ]
    );
    let numbers: Vec<u32> = t.rows.iter().map(|r| r.number).collect();
    assert_eq!(numbers, [5, 6, 8, 9], "the blank row 7 is skipped");
    let first = &t.rows[0].cells;
    assert_eq!(first[0], Cell::Int(1));
    assert_eq!(
        first[1],
        text("3201010101010001"),
        "a NIK in a text cell stays text"
    );
    assert_eq!(
        first[2],
        text("199001012022011008"),
        "an 18-digit NIP typed as a number: every digit the file holds, as text"
    );
    assert_eq!(first[3], text("Ani Lestari"), "text is trimmed");
    assert_eq!(
        first[4],
        Cell::Date(date(2024, 3, 1)),
        "date cells are dates"
    );
    assert_eq!(
        first[5],
        text("31/12/1990"),
        "undeclared date text stays text"
    );
    assert_eq!(t.rows[2].cells[2], Cell::Empty, "empty cells are empty");
    assert_eq!(t.rows[3].cells[4], Cell::Date(date(2024, 2, 29)));
    // Columns by header text, case and spaces ignored.
    assert_eq!(t.column("  tanggal pengajuan "), Some(4));
    assert_eq!(t.column("NAMA PEMOHON"), Some(3));
    assert_eq!(t.cell(&t.rows[1], "nama pemohon"), Some(&text("Budi")));
}

#[test]
fn explicit_header_row_sheet_by_index_renames_dates_filter_and_no_trim() {
    let dir = TempDir::new().unwrap();
    let path = xlsx(dir.path(), "masuk.xlsx", clerk_workbook);
    let options = ReadOptions {
        sheet: Some(SheetRef::Index(1)),
        header_row: Some(4),
        trim: false,
        rename: vec![
            ("Tgl Lahir".into(), "Tanggal Lahir".into()),
            ("NIK Pemohon".into(), "NIK".into()), // not in this file: no harm
            ("nama pemohon".into(), "Nama".into()),
        ],
        dates: vec!["tanggal lahir".into()],
        filter: vec![("Status".into(), vec!["baru".into()])],
        required: vec!["NIK".into(), "Nama".into(), "Tanggal Lahir".into()],
        ..ReadOptions::default()
    };
    let t = read_with(&path, &options).unwrap();
    assert_eq!(
        t.headers,
        [
            "No",
            "NIK",
            "NIP Petugas",
            "Nama",
            "Tanggal Pengajuan",
            "Tanggal Lahir",
            "Status"
        ]
    );
    let numbers: Vec<u32> = t.rows.iter().map(|r| r.number).collect();
    assert_eq!(
        numbers,
        [5, 6, 9],
        "only Status = BARU (case and spaces ignored)"
    );
    assert_eq!(t.filtered, 1);
    let lahir: Vec<Cell> = t.rows.iter().map(|r| r.cells[5].clone()).collect();
    assert_eq!(
        lahir,
        [
            Cell::Date(date(1990, 12, 31)),
            Cell::Date(date(1985, 1, 1)),
            Cell::Date(date(2000, 2, 29)),
        ],
        "dd/mm/yyyy and month names in a declared date column"
    );
    assert_eq!(
        t.rows[0].cells[3],
        text(" Ani Lestari "),
        "trim = false keeps spaces"
    );
    assert_eq!(t.rows[1].cells[6], text("baru "));

    // A header row that is empty is named; so is a sheet position too far.
    let err = read_with(
        &path,
        &ReadOptions {
            header_row: Some(3),
            ..ReadOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "row 3 of sheet \"Permohonan\" of workbook {} is empty: expected the header row there",
            path.display()
        )
    );
    let err = read_with(
        &path,
        &ReadOptions {
            sheet: Some(SheetRef::Index(3)),
            ..ReadOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "workbook {} has no sheet 3; its sheets are: \"Permohonan\", \"Rekap\"",
            path.display()
        )
    );
    let t = read_with(
        &path,
        &ReadOptions {
            sheet: Some(SheetRef::Index(2)),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        (t.sheet.as_str(), t.rows[0].cells[0].clone()),
        ("Rekap", Cell::Int(4))
    );
}

#[test]
fn every_missing_column_is_listed_with_the_columns_there_are() {
    let dir = TempDir::new().unwrap();
    let path = xlsx(dir.path(), "masuk.xlsx", clerk_workbook);
    let options = ReadOptions {
        required: strings(&["NIK", "Jenis Izin", "Skala Usaha"]),
        dates: strings(&["Tanggal Lahir"]),
        filter: vec![("Kecamatan".into(), vec!["Cibinong".into()])],
        ..ReadOptions::default()
    };
    let err = read_with(&path, &options).unwrap_err();
    match &err {
        SheetError::Columns {
            missing, headers, ..
        } => {
            assert_eq!(missing.len(), 3);
            assert_eq!(missing[0].names, strings(&["Jenis Izin", "Skala Usaha"]));
            assert_eq!(missing[1].used_for, ColumnUse::Dates);
            assert_eq!(headers.len(), 7);
        }
        other => panic!("expected Columns, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "workbook {} (sheet \"Permohonan\") lacks the required columns \"Jenis Izin\", \"Skala Usaha\" and lacks the date column \"Tanggal Lahir\" and lacks the filter column \"Kecamatan\"; its columns are \"No\", \"NIK\", \"NIP Petugas\", \"Nama Pemohon\", \"Tanggal Pengajuan\", \"Tgl Lahir\", \"Status\"",
            path.display()
        )
    );

    // Two columns renamed to one name is refused.
    let options = ReadOptions {
        rename: vec![("Tgl Lahir".into(), "NIK".into())],
        ..ReadOptions::default()
    };
    let err = read_with(&path, &options).unwrap_err();
    assert!(
        err.to_string()
            .contains("columns \"NIK\", \"Tgl Lahir\" would both be called \"NIK\" after renaming"),
        "{err}"
    );
}

#[test]
fn repeated_and_missing_headers_get_names() {
    let dir = TempDir::new().unwrap();
    let path = xlsx(dir.path(), "x.xlsx", |wb| {
        let ws = wb.add_worksheet();
        for (c, h) in ["Keterangan", "", "keterangan", "Nilai"].iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        for c in 0..4 {
            ws.write_number(1, c, f64::from(c)).unwrap();
        }
    });
    let t = read(&path, None).unwrap();
    assert_eq!(
        t.headers,
        ["Keterangan", "Kolom 2", "keterangan (2)", "Nilai"]
    );
    assert_eq!(t.column("Keterangan (2)"), Some(2));
}

/// Rewrites `xl/workbook.xml` of an .xlsx so that it uses the 1904 date system.
fn use_1904_dates(path: &Path) {
    use std::io::{Read, Write};
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut parts = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        parts.push((f.name().unwrap().to_string(), bytes));
    }
    let mut out = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in parts {
        let bytes = if name == "xl/workbook.xml" {
            let xml = String::from_utf8(bytes).unwrap();
            assert!(xml.contains("<workbookPr"), "{xml}");
            xml.replace("<workbookPr", "<workbookPr date1904=\"1\"")
                .into_bytes()
        } else {
            bytes
        };
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap();
}

#[test]
fn dates_in_the_1904_date_system() {
    let dir = TempDir::new().unwrap();
    // 01/03/2024 is day 45352 counted from 1900 and day 43890 from 1904.
    let path = xlsx(dir.path(), "mac.xlsx", |wb| {
        let ws = wb.add_worksheet();
        let date = Format::new().set_num_format("dd/mm/yyyy");
        let at = Format::new().set_num_format("dd/mm/yyyy hh:mm");
        ws.write_string(0, 0, "Tanggal").unwrap();
        ws.write_string(0, 1, "Waktu").unwrap();
        ws.write_string(0, 2, "Hari ke").unwrap();
        ws.write_number_with_format(1, 0, 43890.0, &date).unwrap();
        ws.write_number_with_format(1, 1, 43890.5, &at).unwrap();
        ws.write_number(1, 2, 43890.0).unwrap();
    });
    use_1904_dates(&path);
    let options = ReadOptions {
        dates: strings(&["Hari ke"]),
        ..ReadOptions::default()
    };
    let t = read_with(&path, &options).unwrap();
    assert_eq!(
        t.rows[0].cells,
        [
            Cell::Date(date(2024, 3, 1)),
            Cell::DateTime(date(2024, 3, 1).and_hms_opt(12, 0, 0).unwrap()),
            Cell::Date(date(2024, 3, 1)),
        ]
    );
}

#[test]
fn a_workbook_with_the_wrong_extension_is_read_by_its_content() {
    let dir = TempDir::new().unwrap();
    let path = xlsx(dir.path(), "masuk.xls", clerk_workbook);
    let t = read(&path, Some("Rekap")).unwrap();
    assert_eq!(t.rows[0].cells, [Cell::Int(4)]);
}

#[test]
fn a_web_page_saved_as_xls_is_named_for_what_it_is() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("laporan.xls");
    std::fs::write(
        &path,
        "\u{feff}<html><body><table><tr><td>NIK</td></tr></table></body></html>",
    )
    .unwrap();
    let err = read(&path, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open workbook {}: it is not an xls workbook (it looks like an HTML web page, as web systems export them); open it in Excel or LibreOffice and save it as .xlsx",
            path.display()
        )
    );
}

#[test]
fn a_damaged_xlsx_says_so() {
    let dir = TempDir::new().unwrap();
    let good = xlsx(dir.path(), "utuh.xlsx", clerk_workbook);
    let bytes = std::fs::read(&good).unwrap();
    let path = dir.path().join("rusak.xlsx");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = read(&path, None).unwrap_err();
    assert!(matches!(err, SheetError::Open { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("the file is damaged or is not really a .xlsx workbook"),
        "{err}"
    );
}

/// A small OpenDocument spreadsheet, as LibreOffice stores one: a title cell
/// spanning the columns, the header, typed values, repeated empty rows.
fn ods(path: &Path) {
    use std::io::Write;
    let content = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3">
<office:body><office:spreadsheet>
<table:table table:name="Data">
<table:table-row><table:table-cell office:value-type="string" table:number-columns-spanned="4"><text:p>REKAP PERMOHONAN</text:p></table:table-cell><table:covered-table-cell table:number-columns-repeated="3"/></table:table-row>
<table:table-row table:number-rows-repeated="2"><table:table-cell table:number-columns-repeated="4"/></table:table-row>
<table:table-row><table:table-cell office:value-type="string"><text:p>NIK</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>Jumlah</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>Tanggal</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>Lunas</text:p></table:table-cell></table:table-row>
<table:table-row><table:table-cell office:value-type="string"><text:p>3201010101010001</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="12"><text:p>12</text:p></table:table-cell><table:table-cell office:value-type="date" office:date-value="2024-03-01"><text:p>01/03/2024</text:p></table:table-cell><table:table-cell office:value-type="boolean" office:boolean-value="true"><text:p>TRUE</text:p></table:table-cell></table:table-row>
<table:table-row table:number-rows-repeated="3"><table:table-cell table:number-columns-repeated="4"/></table:table-row>
<table:table-row><table:table-cell office:value-type="string"><text:p>3201010101010002</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="2.5"><text:p>2,5</text:p></table:table-cell><table:table-cell/><table:table-cell office:value-type="boolean" office:boolean-value="false"><text:p>FALSE</text:p></table:table-cell></table:table-row>
</table:table>
</office:spreadsheet></office:body></office:document-content>"#;
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"#;
    let mut out = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    out.start_file("mimetype", stored).unwrap();
    out.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    let deflated = zip::write::SimpleFileOptions::default();
    out.start_file("META-INF/manifest.xml", deflated).unwrap();
    out.write_all(manifest.as_bytes()).unwrap();
    out.start_file("content.xml", deflated).unwrap();
    out.write_all(content.as_bytes()).unwrap();
    out.finish().unwrap();
}

#[test]
fn opendocument_spreadsheets_are_read() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("rekap.ods");
    ods(&path);
    let t = read(&path, Some("data")).unwrap();
    assert_eq!(t.sheet, "Data");
    assert_eq!(t.header_row, 4);
    assert_eq!(t.headers, ["NIK", "Jumlah", "Tanggal", "Lunas"]);
    let numbers: Vec<u32> = t.rows.iter().map(|r| r.number).collect();
    assert_eq!(numbers, [5, 9]);
    assert_eq!(
        t.rows[0].cells,
        [
            text("3201010101010001"),
            Cell::Int(12),
            Cell::Date(date(2024, 3, 1)),
            Cell::Bool(true)
        ]
    );
    assert_eq!(
        t.rows[1].cells,
        [
            text("3201010101010002"),
            Cell::Float(2.5),
            Cell::Empty,
            Cell::Bool(false)
        ]
    );
}

// ---- CSV ----------------------------------------------------------------------------

fn csv_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn expected_csv_rows() -> Vec<Vec<Cell>> {
    vec![
        vec![
            text("3201010101010001"),
            text("José Ramos-Horta"),
            Cell::Int(12),
            Cell::Date(date(2024, 3, 1)),
            text("Jl. Merdeka; No. 5"),
        ],
        vec![
            text("3201010101010002"),
            text("Budi"),
            Cell::Float(2.5),
            Cell::Date(date(2024, 12, 31)),
            Cell::Empty,
        ],
    ]
}

#[test]
fn csv_with_any_delimiter_and_encoding() {
    let dir = TempDir::new().unwrap();
    let options = ReadOptions {
        dates: strings(&["Tanggal"]),
        ..ReadOptions::default()
    };
    let headers = ["NIK", "Nama", "Jumlah", "Tanggal", "Alamat"];
    let comma = "NIK,Nama,Jumlah,Tanggal,Alamat\r\n3201010101010001,José Ramos-Horta,12,01/03/2024,\"Jl. Merdeka; No. 5\"\r\n\r\n3201010101010002,Budi,2.5,31/12/2024,\r\n";
    let semicolon = comma.replace(',', ";");
    let tab = comma.replace(',', "\t");
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(semicolon.as_bytes());
    let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode(&semicolon);
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("koma.csv", comma.as_bytes().to_vec()),
        ("titik-koma.csv", semicolon.as_bytes().to_vec()),
        ("tab.tsv", tab.as_bytes().to_vec()),
        ("bom.csv", bom),
        ("excel-windows.csv", cp1252.into_owned()),
        ("sep.csv", format!("sep=;\r\n{semicolon}").into_bytes()),
    ];
    for (name, bytes) in files {
        let path = csv_file(dir.path(), name, &bytes);
        let t = read_with(&path, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.headers, headers, "{name}");
        let cells: Vec<Vec<Cell>> = t.rows.iter().map(|r| r.cells.clone()).collect();
        assert_eq!(cells, expected_csv_rows(), "{name}");
        let numbers: Vec<u32> = t.rows.iter().map(|r| r.number).collect();
        // Rows as a spreadsheet shows the file (Excel's "sep=" line is not one).
        assert_eq!(numbers, [2, 4], "{name}: row numbers");
        assert_eq!(t.sheet, name.rsplit_once('.').unwrap().0);
    }

    // A delimiter and encoding set by hand win over detection.
    let path = csv_file(dir.path(), "pipa.txt", "A|B,C\n1|2,3\n".as_bytes());
    let t = read_with(
        &path,
        &ReadOptions {
            csv: CsvOptions {
                delimiter: Some(b','),
                encoding: Encoding::Utf8,
            },
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(t.headers, ["A|B", "C"]);
    let path = csv_file(dir.path(), "latin.csv", b"Nama\nJos\xE9\n");
    let err = read_with(
        &path,
        &ReadOptions {
            csv: CsvOptions {
                delimiter: None,
                encoding: Encoding::Utf8,
            },
            ..ReadOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("byte 9 is not UTF-8 text; if the file comes from Excel on Windows, set the encoding to \"windows-1252\""),
        "{err}"
    );

    // A CSV file has one sheet: its own name or 1; anything else is refused.
    let path = csv_file(dir.path(), "data.csv", b"A\n1\n");
    let err = read(&path, Some("Permohonan")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "workbook {} has no sheet \"Permohonan\"; its sheets are: \"data\"",
            path.display()
        )
    );
    assert!(read(&path, Some("DATA")).is_ok());
}

// ---- round trip -----------------------------------------------------------------------

#[test]
fn round_trip_read_write_read_gives_the_same_values() {
    let dir = TempDir::new().unwrap();
    let input = xlsx(dir.path(), "masuk.xlsx", clerk_workbook);
    let options = ReadOptions {
        dates: strings(&["Tgl Lahir"]),
        ..ReadOptions::default()
    };
    let first = read_with(&input, &options).unwrap();

    // As output.xlsx is built: the input columns, then a status column.
    let mut headers = first.headers.clone();
    headers.push("Status".into());
    let sheet = OutSheet {
        name: "Hasil".into(),
        headers,
        rows: first
            .rows
            .iter()
            .map(|r| {
                let mut cells = r.cells.clone();
                cells.push(text("Selesai"));
                OutRow {
                    cells,
                    tone: Some(Tone::Good),
                }
            })
            .collect(),
        tone_column: Some(first.headers.len()),
    };
    let output = dir.path().join("output.xlsx");
    write(&output, &[sheet]).unwrap();

    let back = read(&output, None).unwrap();
    assert_eq!(back.header_row, 1);
    let mut expected_headers = first.headers.clone();
    expected_headers.push("Status (2)".into()); // the input has a Status column too
    assert_eq!(back.headers, expected_headers);
    assert_eq!(back.rows.len(), first.rows.len());
    for (a, b) in first.rows.iter().zip(&back.rows) {
        assert_eq!(&b.cells[..a.cells.len()], &a.cells[..], "row {}", a.number);
    }
    // Every kind came through: text, big and small integers, dates, empties.
    let kinds: Vec<&Cell> = back.rows[0].cells.iter().collect();
    assert!(matches!(kinds[1], Cell::Text(_)));
    assert_eq!(kinds[2], &text("199001012022011008"));
    assert!(matches!(kinds[4], Cell::Date(_)));
    assert!(matches!(kinds[5], Cell::Date(_)));
}

#[test]
fn merged_cells_below_the_header_give_their_value_to_every_row() {
    let dir = TempDir::new().unwrap();
    let path = xlsx(dir.path(), "rekap.xlsx", |wb| {
        let ws = wb.add_worksheet();
        let plain = Format::new();
        ws.merge_range(0, 0, 0, 2, "REKAP PER KECAMATAN", &plain)
            .unwrap();
        for (c, h) in ["Kecamatan", "Desa", "Jumlah"].iter().enumerate() {
            ws.write_string(1, c as u16, *h).unwrap();
        }
        // "Cibinong" written once for three rows, as clerks do.
        ws.merge_range(2, 0, 4, 0, "Cibinong", &plain).unwrap();
        ws.merge_range(5, 0, 6, 0, "Citeureup", &plain).unwrap();
        for (r, (desa, n)) in [
            ("Pakansari", 3.0),
            ("Tengah", 4.0),
            ("Sukahati", 5.0),
            ("Puspanegara", 6.0),
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(r as u32 + 2, 1, *desa).unwrap();
            ws.write_number(r as u32 + 2, 2, *n).unwrap();
        }
        // Row 7 (0-based 6) is merged into Citeureup but otherwise blank.
    });
    let t = read(&path, None).unwrap();
    assert_eq!(t.headers, ["Kecamatan", "Desa", "Jumlah"]);
    let rows: Vec<(u32, String, String)> = t
        .rows
        .iter()
        .map(|r| (r.number, r.cells[0].to_text(), r.cells[1].to_text()))
        .collect();
    assert_eq!(
        rows,
        [
            (3, "Cibinong".into(), "Pakansari".into()),
            (4, "Cibinong".into(), "Tengah".into()),
            (5, "Cibinong".into(), "Sukahati".into()),
            (6, "Citeureup".into(), "Puspanegara".into()),
        ],
        "the merged row 7 without data of its own is no work item"
    );
}

// ---- Files that are not what they say, and files made to cost too much ---------------

/// A zip archive of `parts` (name, content), deflated.
fn zip_of(path: &Path, parts: &[(&str, &[u8])]) {
    use std::io::Write;
    let mut out = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in parts {
        out.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(bytes).unwrap();
    }
    out.finish().unwrap();
}

#[test]
fn a_file_that_is_not_what_its_name_says_is_named_for_what_it_is() {
    let dir = TempDir::new().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "foto.xlsx",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec(),
            "it is not an xlsx workbook (it looks like a PNG image)",
        ),
        (
            "laporan.xlsx",
            b"<!DOCTYPE html><html><body><table></table></body></html>".to_vec(),
            "it is not an xlsx workbook (it looks like an HTML web page, as web systems export them); open it in Excel or LibreOffice and save it as .xlsx",
        ),
        (
            "data.xlsx",
            b"NIK;Nama\r\n3201010101010001;Ani\r\n".to_vec(),
            "it is not an xlsx workbook (it looks like text; if it is a CSV file, name it .csv)",
        ),
        (
            "scan.csv",
            b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec(),
            "it is not a csv file (it looks like a PDF document)",
        ),
        (
            "kosong.xlsx",
            Vec::new(),
            "it is empty (0 bytes); the file was not saved or not copied whole",
        ),
    ];
    for (name, bytes, reason) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = read(&path, None).unwrap_err();
        assert!(matches!(err, SheetError::Open { .. }), "{name}: {err:?}");
        assert_eq!(
            err.to_string(),
            format!("cannot open workbook {}: {reason}", path.display()),
            "{name}"
        );
    }

    // A Word document saved with an .xlsx name.
    let path = dir.path().join("surat.xlsx");
    zip_of(
        &path,
        &[
            ("[Content_Types].xml", b"<Types/>"),
            ("word/document.xml", b"<w:document/>"),
        ],
    );
    assert_eq!(
        read(&path, None).unwrap_err().to_string(),
        format!(
            "cannot open workbook {}: it is not an xlsx workbook (it looks like a Word document (.docx))",
            path.display()
        )
    );
}

/// Bytes that look random (the same every time).
fn noise(len: usize) -> Vec<u8> {
    let mut x: u32 = 2_463_534_242;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn binary_data_saved_as_csv_is_refused_with_where_it_starts() {
    let dir = TempDir::new().unwrap();
    let bytes = noise(5000);
    let nul = bytes.iter().position(|b| *b == 0).unwrap();
    let line = bytes[..nul].iter().filter(|b| **b == b'\n').count() + 1;
    let path = csv_file(dir.path(), "acak.csv", &bytes);
    let err = read(&path, None).unwrap_err();
    assert!(matches!(err, SheetError::Open { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open workbook {}: it is binary data, not text: byte {} (line {line}) is a NUL byte, which text never holds; a .csv file must be text, as Excel or LibreOffice save it",
            path.display(),
            nul + 1
        )
    );

    // Without NUL bytes: too many control characters.
    let no_nul: Vec<u8> = bytes.iter().map(|b| b.max(&1)).copied().collect();
    let path = csv_file(dir.path(), "acak2.csv", &no_nul);
    let message = read(&path, None).unwrap_err().to_string();
    assert!(
        message.contains("it is binary data, not text: ")
            && message.contains(" of its 5,000 bytes are control characters, the first at byte "),
        "{message}"
    );

    // A stray end-of-file mark and a form feed are still text.
    let path = csv_file(
        dir.path(),
        "lama.csv",
        b"NIK,Nama\r\n1,Ani\x0c\r\n2,Budi\r\n\x1a",
    );
    let t = read(&path, None).unwrap();
    assert_eq!(t.rows.len(), 2);

    // UTF-16 text with NUL characters in it.
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in "NIK\n1\u{0}2\n".encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    let path = csv_file(dir.path(), "utf16.csv", &utf16);
    let message = read(&path, None).unwrap_err().to_string();
    assert!(
        message.contains("it is binary data, not text: character 6 (line 2)"),
        "{message}"
    );
}

#[test]
fn a_value_longer_than_a_cell_holds_is_refused() {
    let dir = TempDir::new().unwrap();
    let mut text = b"NIK,Catatan\n1,".to_vec();
    text.extend(std::iter::repeat_n(b'x', guard::MAX_CELL_TEXT + 1));
    text.push(b'\n');
    let path = csv_file(dir.path(), "panjang.csv", &text);
    let err = read(&path, None).unwrap_err();
    assert!(matches!(err, SheetError::Refused { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "workbook {} is refused: value 2 of line 2 holds 1.0 MB of text, more than the 1.0 MB juru reads from one cell (Excel itself keeps at most 32,767 characters in a cell)",
            path.display()
        )
    );
}

#[test]
fn one_value_far_to_the_right_cannot_widen_every_row_beyond_the_limit() {
    let dir = TempDir::new().unwrap();
    let rows = guard::MAX_CELLS / guard::MAX_COLUMNS + 10;
    let path = xlsx(dir.path(), "lebar.xlsx", |wb| {
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "No").unwrap();
        for r in 1..=rows as u32 {
            ws.write_number(r, 0, f64::from(r)).unwrap();
        }
        ws.write_string(5, 16_383, "x").unwrap();
    });
    let err = read(&path, None).unwrap_err();
    assert!(matches!(err, SheetError::Refused { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "workbook {} is refused: sheet \"Sheet1\" is larger than juru reads: its table of {} rows by 16,384 columns (from A to XFD) holds {} cells, more than 4,000,000; split it into smaller workbooks",
            path.display(),
            guard::count_text(rows as u64),
            guard::count_text((rows * 16_384) as u64)
        )
    );
}

#[test]
fn an_opendocument_sheet_that_repeats_beyond_the_limit_is_refused_before_it_is_read() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("ulang.ods");
    let content = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3">
<office:body><office:spreadsheet><table:table table:name="Bom">
<table:table-row table:number-rows-repeated="100000"><table:table-cell table:number-columns-repeated="16384" office:value-type="float" office:value="1"/></table:table-row>
</table:table></office:spreadsheet></office:body></office:document-content>"#;
    zip_of(
        &path,
        &[
            (
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet",
            ),
            ("content.xml", content.as_bytes()),
        ],
    );
    let started = std::time::Instant::now();
    let err = read(&path, None).unwrap_err();
    assert!(matches!(err, SheetError::Refused { .. }), "{err:?}");
    assert!(
        err.to_string().contains(
            "sheet \"Bom\" would be laid out as 1,638,416,384 cells (its rows and cells say they repeat), more than the 4,000,000 juru reads from one sheet"
        ),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn a_workbook_whose_parts_lie_about_their_size_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("bohong.xlsx");
    let big = vec![b'A'; 2 << 20];
    zip_of(
        &path,
        &[
            ("xl/workbook.xml", b"<workbook/>"),
            ("xl/sharedStrings.xml", &big),
        ],
    );
    // Say, in the local header and the central directory, that the 2 MB part
    // unpacks to 100 bytes.
    let mut bytes = std::fs::read(&path).unwrap();
    let name = b"xl/sharedStrings.xml";
    for (signature, size_at, name_at) in [(b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)] {
        let at = (0..bytes.len() - name_at - name.len())
            .find(|&i| bytes[i..].starts_with(signature) && bytes[i + name_at..].starts_with(name))
            .unwrap();
        bytes[at + size_at..at + size_at + 4].copy_from_slice(&100u32.to_le_bytes());
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = read(&path, None).unwrap_err();
    assert!(matches!(err, SheetError::Open { .. }), "{err:?}");
    assert!(
        err.to_string().contains(
            "its part xl/sharedStrings.xml declares 100 bytes unpacked for 2 KB packed, which cannot be: the file is damaged or was made to mislead"
        ),
        "{err}"
    );
}
