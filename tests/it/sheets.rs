//! Workbooks in and out: the formats clerks send (legacy .xls written by xlwt,
//! a password-protected .xlsx written by msoffcrypto-tool; both installed by
//! `.ci/install --tests`), bad input refused before a run starts, and what a
//! real run leaves in output.xlsx, exceptions.xlsx and a workbook of the bot's
//! own, read back from the files.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use calamine::{open_workbook_auto, Data, Reader};
use chrono::NaiveDate;
use juru::sheet::{self, Cell, ReadOptions, SheetRef};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use crate::support::{Project, REPO};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn text(s: &str) -> Cell {
    Cell::Text(s.into())
}

/// Runs tests/fixtures/workbooks.py with `args`.
fn python_fixture(args: &[&str]) {
    let script = Path::new(REPO).join("tests/fixtures/workbooks.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{} {args:?} failed (are xlwt and msoffcrypto-tool installed? run .ci/install --tests):\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One part of an .xlsx (a zip archive) as text.
fn xlsx_part(path: &Path, part: &str) -> String {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = zip::ZipArchive::new(file).unwrap();
    let mut entry = archive
        .by_name(part)
        .unwrap_or_else(|e| panic!("{} has no {part}: {e}", path.display()));
    let mut xml = String::new();
    entry.read_to_string(&mut xml).unwrap();
    xml
}

#[test]
fn legacy_xls_workbooks_in_both_date_systems() {
    let dir = tempfile::tempdir().unwrap();
    for system in ["1900", "1904"] {
        let path = dir.path().join(format!("rekap-{system}.xls"));
        python_fixture(&["xls", path.to_str().unwrap(), system]);
        let options = ReadOptions {
            sheet: Some(SheetRef::Name("data".into())),
            ..ReadOptions::default()
        };
        let t = sheet::read_with(&path, &options).unwrap();
        assert_eq!(t.sheet, "Data", "{system}");
        assert_eq!(t.header_row, 3, "{system}: the merged title is passed over");
        assert_eq!(
            t.headers,
            ["No", "NIK", "NIP", "Nama", "Tanggal", "Dicatat", "Lunas"]
        );
        let numbers: Vec<u32> = t.rows.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [4, 6], "{system}: the blank row 5 is skipped");
        assert_eq!(
            t.rows[0].cells,
            [
                Cell::Int(1),
                text("3201010101010001"),
                text("199001012022011001"),
                text("Ani"),
                Cell::Date(date(2024, 3, 1)),
                Cell::DateTime(date(2024, 3, 1).and_hms_opt(8, 30, 0).unwrap()),
                Cell::Bool(true),
            ],
            "{system}"
        );
        assert_eq!(
            t.rows[1].cells,
            [
                Cell::Float(2.5),
                text("3201010101010002"),
                Cell::Empty,
                text("Budi"),
                Cell::Date(date(1999, 12, 31)),
                Cell::DateTime(date(2030, 6, 15).and_hms_opt(23, 59, 0).unwrap()),
                Cell::Bool(false),
            ],
            "{system}"
        );
        // The sheet by position too (the first one is the instructions).
        let options = ReadOptions {
            sheet: Some(SheetRef::Index(2)),
            ..ReadOptions::default()
        };
        assert_eq!(sheet::read_with(&path, &options).unwrap().sheet, "Data");
    }
}

/// A bot that needs no web page: it checks the NIK itself, looks the district
/// up in a workbook of its own and copies that workbook into the run folder.
fn rekap_bot(p: &Project) {
    p.write(
        "bots/rekap/bot.toml",
        r#"name = "rekap"
[input]
workbook = "masuk.xlsx"
sheet = "Permohonan"
rename = { "No KTP" = "NIK" }
required = ["NIK", "Nama Pemohon"]
dates = ["Tanggal Lahir"]
filter = { Status = "BARU" }
"#,
    );
    p.write(
        "bots/rekap/main.rhai",
        r#"
// A browser, so that the failures have screenshots (linked from exceptions.xlsx).
fn init() { browser.open("about:blank"); }

fn process(item) {
    let nik = item["NIK"];
    if nik.len() != 16 { fail_business(`NIK ${nik} tidak 16 digit`); }
    if item["Nama Pemohon"] == "Rusak" { throw "data rusak"; }
    let kode = nik.sub_string(0, 6);
    let nama = "";
    for k in read_workbook("data/kecamatan.xlsx", #{ required: ["Kode", "Kecamatan"] }) {
        if k["Kode"] == kode { nama = k["Kecamatan"]; }
    }
    item.output("Kecamatan", nama);
    item.output("Status", "diperiksa");
}

fn finish() {
    write_workbook("salinan/kecamatan.xlsx", #{
        name: "Kecamatan",
        rows: read_workbook("data/kecamatan.xlsx"),
        columns: ["Kode", "Kecamatan"],
    });
}
"#,
    );
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("Kecamatan").unwrap();
    for (r, (kode, nama)) in [
        ("Kode", "Kecamatan"),
        ("320101", "Cibinong"),
        ("320102", "Gunung Putri"),
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(r as u32, 0, *kode).unwrap();
        ws.write_string(r as u32, 1, *nama).unwrap();
    }
    std::fs::create_dir_all(p.path("bots/rekap/data")).unwrap();
    wb.save(p.path("bots/rekap/data/kecamatan.xlsx")).unwrap();
    clerk_input(&p.path("bots/rekap/masuk.xlsx"));
}

/// The input as a clerk sends it: a merged title, the header on row 3, a
/// column named differently from what the bot calls it, dates typed as text,
/// an 18-digit NIP, rows for other statuses and a blank row.
fn clerk_input(path: &Path) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("Permohonan").unwrap();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    ws.merge_range(0, 0, 0, 7, "DAFTAR PERMOHONAN", &Format::new())
        .unwrap();
    let headers = [
        "No",
        "No KTP",
        "Nama Pemohon",
        "NIP Petugas",
        "Tanggal Lahir",
        "Tanggal Pengajuan",
        "Jumlah",
        "Status",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(2, c as u16, *h).unwrap();
    }
    let rows = [
        ("3201010101010001", "Ani", "31/12/1990", 150_000.5, "BARU"),
        ("32010101", "Budi", "1 Januari 1985", 2.0, "BARU"),
        ("3201010101010003", "Citra", "02/02/1992", 3.0, "SELESAI"),
        ("3201020202020004", "Rusak", "03/03/1993", 4.0, " baru "),
        ("3201020202020005", "Dewi", "04/04/1994", 5.0, "BARU"),
    ];
    let mut r = 3;
    for (i, (nik, nama, lahir, jumlah, status)) in rows.iter().enumerate() {
        if i == 3 {
            r += 1; // a blank row
        }
        ws.write_number(r, 0, (i + 1) as f64).unwrap();
        ws.write_string(r, 1, *nik).unwrap();
        ws.write_string(r, 2, *nama).unwrap();
        ws.write_string(r, 3, "199001012022011001").unwrap();
        ws.write_string(r, 4, *lahir).unwrap();
        let at = ExcelDateTime::from_ymd(2024, 3, (i + 1) as u8).unwrap();
        ws.write_datetime_with_format(r, 5, &at, &date).unwrap();
        ws.write_number(r, 6, *jumlah).unwrap();
        ws.write_string(r, 7, *status).unwrap();
        r += 1;
    }
    wb.save(path).unwrap();
}

fn rows_of(path: &Path, sheet: &str) -> Vec<Vec<Data>> {
    let mut wb = open_workbook_auto(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let range = wb.worksheet_range(sheet).unwrap();
    range.rows().map(|r| r.to_vec()).collect()
}

#[test]
fn a_run_reads_the_clerks_workbook_and_writes_workbooks_officers_can_use() {
    let p = Project::new();
    rekap_bot(&p);
    let run = p.juru(&["run", "rekap"]);
    assert_eq!(run.code(), 0, "{run}");
    let dir = p.run_dir();

    // Round trip: the input columns of output.xlsx hold what juru read.
    let bot = juru::bot::load(&p.path("bots"), "rekap").unwrap();
    let input = sheet::read_with(&p.path("bots/rekap/masuk.xlsx"), &bot.input.read).unwrap();
    let numbers: Vec<u32> = input.rows.iter().map(|r| r.number).collect();
    assert_eq!(
        numbers,
        [4, 5, 8, 9],
        "Status = BARU only, blank row skipped"
    );
    assert_eq!(input.rows[0].cells[4], Cell::Date(date(1990, 12, 31)));
    assert_eq!(input.rows[1].cells[4], Cell::Date(date(1985, 1, 1)));
    let output = dir.join("output.xlsx");
    let out = sheet::read(&output, Some("Hasil")).unwrap();
    let width = input.headers.len();
    assert_eq!(&out.headers[..width], &input.headers[..]);
    assert_eq!(
        &out.headers[width..],
        ["Status (2)", "Kecamatan", "Status (3)", "Keterangan"],
        "juru's status, the outputs (one named like an input column) and the message"
    );
    assert_eq!(out.rows.len(), 4);
    for (a, b) in input.rows.iter().zip(&out.rows) {
        assert_eq!(&b.cells[..width], &a.cells[..], "input row {}", a.number);
    }
    let column = |name: &str| -> Vec<String> {
        let c = out.column(name).unwrap();
        out.rows.iter().map(|r| r.cells[c].to_text()).collect()
    };
    assert_eq!(
        column("Status (2)"),
        [
            "Selesai",
            "Pengecualian bisnis",
            "Pengecualian sistem",
            "Selesai"
        ]
    );
    assert_eq!(column("Kecamatan"), ["Cibinong", "", "", "Gunung Putri"]);
    assert_eq!(column("Status (3)"), ["diperiksa", "", "", "diperiksa"]);
    let reasons = column("Keterangan");
    assert_eq!(reasons[1], "NIK 32010101 tidak 16 digit");
    assert!(reasons[2].contains("data rusak"), "{reasons:?}");
    assert_eq!(column("NIP Petugas")[0], "199001012022011001");

    // What officers see: bold frozen filterable header, fitted widths, dates
    // as dates, digits as text, coloured status cells.
    let raw = rows_of(&output, "Hasil");
    assert!(matches!(&raw[1][1], Data::String(s) if s == "3201010101010001"));
    assert!(matches!(&raw[1][3], Data::String(s) if s == "199001012022011001"));
    assert!(matches!(&raw[1][4], Data::DateTime(_)), "{:?}", raw[1][4]);
    let mut wb = open_workbook_auto(&output).unwrap();
    let styles = wb.worksheet_style("Hasil").unwrap();
    let style = |r: u32, c: u32| styles.get((r, c)).cloned().unwrap_or_default();
    for c in 0..out.headers.len() as u32 {
        assert!(
            style(0, c).font.is_some_and(|f| f.is_bold()),
            "header cell {c} is bold"
        );
    }
    let format = |r: u32, c: u32| style(r, c).number_format.map(|f| f.format_code);
    assert_eq!(format(1, 4).as_deref(), Some("dd/mm/yyyy"));
    assert_eq!(format(1, 5).as_deref(), Some("dd/mm/yyyy"));
    let status_col = width as u32;
    let fill = |r: u32| {
        style(r, status_col)
            .fill
            .and_then(|f| f.get_color())
            .map(|c| c.to_argb() & 0xFF_FFFF)
    };
    assert_eq!(
        [fill(1), fill(2), fill(3), fill(4)],
        [
            Some(0xC6EFCE),
            Some(0xFFEB9C),
            Some(0xFFC7CE),
            Some(0xC6EFCE)
        ],
        "green done, amber business, red system"
    );
    let xml = xlsx_part(&output, "xl/worksheets/sheet1.xml");
    assert!(
        xml.contains(
            r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#
        ),
        "frozen header: {xml}"
    );
    let last = rust_xlsxwriter::utility::column_number_to_name(out.headers.len() as u16 - 1);
    assert!(
        xml.contains(&format!(r#"<autoFilter ref="A1:{last}5"/>"#)),
        "autofilter over the table: {xml}"
    );
    let cols = xml.matches("<col ").count();
    assert!(cols >= out.headers.len() - 1, "fitted widths: {xml}");

    // exceptions.xlsx: one row per failed item with the sheet's No and the key
    // columns (by default the first two required ones), kind, reason, time and
    // its screenshot, then the item's other data; a summary sheet.
    let exceptions = dir.join("exceptions.xlsx");
    let exc = sheet::read(&exceptions, Some("Pengecualian")).unwrap();
    assert_eq!(
        &exc.headers[..8],
        [
            "Baris",
            "No",
            "NIK",
            "Nama Pemohon",
            "Jenis",
            "Alasan",
            "Waktu",
            "Tangkapan Layar"
        ]
    );
    assert_eq!(&exc.headers[8..], &input.headers[3..]);
    assert_eq!(exc.rows.len(), 2);
    assert_eq!(exc.rows[0].cells[0], Cell::Int(5));
    assert_eq!(&exc.rows[0].cells[1..4], &input.rows[1].cells[..3]);
    assert_eq!(exc.rows[0].cells[4], text("Pengecualian bisnis"));
    assert_eq!(exc.rows[0].cells[5], text("NIK 32010101 tidak 16 digit"));
    assert!(
        exc.rows[0].cells[6].to_text().ends_with("WIB"),
        "{:?}",
        exc.rows[0].cells[6]
    );
    assert_eq!(&exc.rows[0].cells[8..], &input.rows[1].cells[3..]);
    assert_eq!(exc.rows[1].cells[0], Cell::Int(8));
    let rels = xlsx_part(&exceptions, "xl/worksheets/_rels/sheet1.xml.rels");
    for row in &exc.rows {
        let shot = row.cells[7].to_text();
        assert!(shot.starts_with("screenshots/"), "{shot}");
        assert!(
            rels.contains(&format!("Target=\"{shot}\" TargetMode=\"External\"")),
            "a link to {shot}: {rels}"
        );
        assert!(
            dir.join(&shot).is_file(),
            "{shot} exists beside the workbook"
        );
    }
    let summary = sheet::read(&exceptions, Some("Ringkasan")).unwrap();
    let line = |label: &str| {
        summary
            .rows
            .iter()
            .find(|r| r.cells[0] == text(label))
            .map(|r| r.cells[1].clone())
    };
    assert_eq!(line("Jumlah baris"), Some(Cell::Int(4)));
    assert_eq!(line("Selesai"), Some(Cell::Int(2)));
    assert_eq!(line("Pengecualian bisnis"), Some(Cell::Int(1)));
    assert_eq!(line("Pengecualian sistem"), Some(Cell::Int(1)));

    // The bot's own workbook, written by write_workbook into the run folder.
    let copy = sheet::read(&dir.join("salinan/kecamatan.xlsx"), Some("Kecamatan")).unwrap();
    assert_eq!(copy.headers, ["Kode", "Kecamatan"]);
    assert_eq!(copy.rows[1].cells, [text("320102"), text("Gunung Putri")]);
    assert!(
        !p.files("var").iter().any(|f| f.ends_with(".tmp")),
        "no temp files: {:?}",
        p.files("var")
    );
}

/// A workbook with one sheet `name` holding `headers` and one row.
fn workbook_with(path: &Path, name: &str, headers: &[&str]) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name(name).unwrap();
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
        ws.write_string(1, c as u16, "x").unwrap();
    }
    wb.save(path).unwrap();
}

#[test]
fn bad_input_workbooks_stop_the_run_before_it_starts() {
    let p = Project::new();
    rekap_bot(&p);
    let inbox = p.path("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let at = |name: &str| -> PathBuf { inbox.join(name) };

    let good = std::fs::read(p.path("bots/rekap/masuk.xlsx")).unwrap();
    std::fs::write(at("rusak.xlsx"), &good[..good.len() / 3]).unwrap();
    python_fixture(&[
        "encrypt",
        p.path("bots/rekap/masuk.xlsx").to_str().unwrap(),
        at("terkunci.xlsx").to_str().unwrap(),
        "rahasia",
    ]);
    std::fs::write(
        at("ekspor.xls"),
        "<html><body><table><tr><td>NIK</td></tr></table></body></html>",
    )
    .unwrap();
    std::fs::write(at("surat.pdf"), "%PDF-1.4\n").unwrap();
    workbook_with(&at("lain.xlsx"), "Data", &["NIK"]);
    workbook_with(&at("kurang.xlsx"), "Permohonan", &["No", "No KTP", "Nama"]);

    let cases: [(&str, &[&str]); 6] = [
        (
            "rusak.xlsx",
            &["inbox/rusak.xlsx: the file is damaged or is not really a .xlsx workbook"],
        ),
        (
            "terkunci.xlsx",
            &["inbox/terkunci.xlsx: it is password-protected; save a copy without a password and use that"],
        ),
        (
            "ekspor.xls",
            &["inbox/ekspor.xls: it is not an xls workbook (it looks like an HTML web page, as web systems export them); open it in Excel or LibreOffice and save it as .xlsx"],
        ),
        (
            "surat.pdf",
            &["inbox/surat.pdf: files of type .pdf are not supported (supported formats are .xlsx, .xlsm, .xls, .xlsb, .ods and .csv)"],
        ),
        (
            "lain.xlsx",
            &["inbox/lain.xlsx has no sheet \"Permohonan\"; its sheets are: \"Data\""],
        ),
        (
            "kurang.xlsx",
            &[
                "(sheet \"Permohonan\") lacks the required column \"Nama Pemohon\" listed in",
                "bot.toml: input.required; its columns are \"No\", \"NIK\", \"Nama\"",
                "lacks the date column \"Tanggal Lahir\" listed in",
                "lacks the filter column \"Status\" listed in",
                "3 problems found",
            ],
        ),
    ];
    for (file, expected) in cases {
        let input = format!("inbox/{file}");
        let run = p.juru(&["run", "rekap", "--input", &input]);
        assert_eq!(run.code(), 2, "{file}: {run}");
        let err = run.stderr();
        for e in expected {
            assert!(err.contains(e), "{file}: expected {e:?} in\n{run}");
        }
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
        let want = if file == "kurang.xlsx" { 3 } else { 1 };
        assert_eq!(
            errors.len(),
            want,
            "{file}: one sentence per problem\n{run}"
        );
        p.assert_nothing_written();
    }
}

#[test]
fn check_names_every_bad_input_key() {
    let p = Project::new();
    rekap_bot(&p);
    p.write(
        "bots/rekap/bot.toml",
        "name = \"rekap\"\n[input]\nworkbook = \"masuk.xlsx\"\nsheet = 0\nheader_row = \"tiga\"\n",
    );
    let run = p.juru(&["check"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stderr().contains("2 problems found"), "{run}");
    assert!(
        run.stderr()
            .contains("bots/rekap/bot.toml:5:14: input.header_row: \"tiga\" is not a row number; expected the header's row as Excel shows it (1 = the first row)"),
        "{run}"
    );
    p.write(
        "bots/rekap/bot.toml",
        "name = \"rekap\"\n[input]\nworkbook = \"masuk.xlsx\"\nsheet = 0\ncsv = { delimiter = \"::\" }\n",
    );
    let run = p.juru(&["check"]);
    assert_eq!(run.code(), 2, "{run}");
    let err = run.stderr();
    assert!(
        err.contains("bots/rekap/bot.toml:4:9: input.sheet: expected a sheet name"),
        "{run}"
    );
    assert!(
        err.contains("bots/rekap/bot.toml:5:21: input.csv.delimiter: \"::\" is not a delimiter"),
        "{run}"
    );
    assert!(err.contains("2 problems found"), "{run}");
}

/// What a juru command did under a memory limit, and how long it took.
struct Limited {
    code: i32,
    stderr: String,
    took: std::time::Duration,
}

/// Runs `juru ARGS` in the project with its heap limited to `megabytes`
/// (RLIMIT_DATA: what it may allocate). A juru that unpacked what it was
/// given would fail to allocate and abort; one that refuses it in time exits
/// with its own message.
fn juru_within(p: &Project, megabytes: u64, args: &[&str]) -> Limited {
    use std::os::unix::process::CommandExt;
    let started = std::time::Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_juru"));
    cmd.args(args)
        .current_dir(p.dir.path())
        .env("TMPDIR", p.path("tmp"))
        .env("NO_COLOR", "1");
    let limit = libc::rlimit {
        rlim_cur: megabytes << 20,
        rlim_max: megabytes << 20,
    };
    // SAFETY: only setrlimit, a plain system call, runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_DATA, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("juru runs");
    Limited {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// The parts of a valid .xlsx whose one cell (A1) is shared string 0, with
/// `shared_strings` written into xl/sharedStrings.xml in pieces as they come,
/// so that a part of hundreds of megabytes costs the test little memory.
fn xlsx_by_hand(path: &Path, mut shared_strings: impl FnMut(&mut dyn std::io::Write)) {
    use std::io::Write;
    let file = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let deflated = zip::write::SimpleFileOptions::default();
    let parts: [(&str, &str); 5] = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Permohonan" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#,
        ),
        (
            "xl/worksheets/sheet1.xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>"#,
        ),
    ];
    for (name, text) in parts {
        z.start_file(name, deflated).unwrap();
        z.write_all(text.as_bytes()).unwrap();
    }
    z.start_file("xl/sharedStrings.xml", deflated).unwrap();
    shared_strings(&mut z);
    z.finish().unwrap().flush().unwrap();
}

/// sharedStrings.xml with one string: `len` times the letter A.
fn one_long_string(len: u64) -> impl FnMut(&mut dyn std::io::Write) {
    move |out: &mut dyn std::io::Write| {
        out.write_all(br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>"#)
            .unwrap();
        let chunk = vec![b'A'; 1 << 20];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            out.write_all(&chunk[..n]).unwrap();
            left -= n as u64;
        }
        out.write_all(b"</t></si></sst>").unwrap();
    }
}

#[test]
fn a_zip_bomb_is_refused_at_once_without_unpacking_it() {
    let p = Project::new();
    rekap_bot(&p);
    std::fs::create_dir_all(p.path("inbox")).unwrap();
    // 300 MB of one letter in one cell, packed about 1,000 times.
    let bomb = p.path("inbox/bom.xlsx");
    xlsx_by_hand(&bomb, one_long_string(300 << 20));
    let packed = std::fs::metadata(&bomb).unwrap().len();
    assert!(packed < 1 << 20, "the bomb is small: {packed} bytes");

    let run = juru_within(&p, 160, &["run", "rekap", "--input", "inbox/bom.xlsx"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let expected = "error: workbook inbox/bom.xlsx is refused: its part xl/sharedStrings.xml would unpack to 300.0 MB from ";
    assert!(
        run.stderr.contains(expected),
        "wanted {expected}\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "as no real workbook does: it looks made to exhaust memory (a zip bomb) and is refused"
        ),
        "{}",
        run.stderr
    );
    let errors = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .count();
    assert_eq!(errors, 1, "one sentence: {}", run.stderr);
    assert!(
        run.took < std::time::Duration::from_secs(60),
        "took {:?}",
        run.took
    );
    p.assert_nothing_written();
}

#[test]
fn a_workbook_unpacking_beyond_the_limit_is_refused_even_when_it_packs_like_real_data() {
    let p = Project::new();
    rekap_bot(&p);
    std::fs::create_dir_all(p.path("inbox")).unwrap();
    // Digits that pack about 30 times, as real sheets do, over 260 MB.
    let big = p.path("inbox/besar.xlsx");
    xlsx_by_hand(&big, |out: &mut dyn std::io::Write| {
        out.write_all(b"<sst><si><t>").unwrap();
        // Mostly the same digit, now and then another: packs well, not absurdly.
        let mut x: u64 = 88_172_645_463_325_252;
        let chunk: Vec<u8> = (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x.is_multiple_of(16) {
                    b'0' + (x % 10) as u8
                } else {
                    b'7'
                }
            })
            .collect();
        for _ in 0..260 {
            out.write_all(&chunk).unwrap();
        }
        out.write_all(b"</t></si></sst>").unwrap();
    });
    let run = juru_within(&p, 160, &["run", "rekap", "--input", "inbox/besar.xlsx"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "error: workbook inbox/besar.xlsx is refused: it would unpack to 260.0 MB, more than the 256.0 MB juru reads from one workbook; split it into smaller workbooks"
        ),
        "{}",
        run.stderr
    );
    p.assert_nothing_written();
}

#[test]
fn inputs_that_are_not_what_their_name_says_stop_the_run_with_what_they_are() {
    let p = Project::new();
    rekap_bot(&p);
    std::fs::create_dir_all(p.path("inbox")).unwrap();
    // 5000 bytes of noise saved as .csv.
    let mut x: u32 = 2_463_534_242;
    let noise: Vec<u8> = (0..5000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(p.path("inbox/acak.csv"), &noise).unwrap();
    let nul = noise.iter().position(|b| *b == 0).unwrap();
    let line = noise[..nul].iter().filter(|b| **b == b'\n').count() + 1;
    std::fs::write(
        p.path("inbox/foto.xlsx"),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
    )
    .unwrap();
    std::fs::write(
        p.path("inbox/halaman.xlsx"),
        "<!DOCTYPE html>\n<html><head><title>Masuk</title></head><body>Sesi habis</body></html>",
    )
    .unwrap();

    let cases = [
        (
            "acak.csv",
            format!("error: cannot open workbook inbox/acak.csv: it is binary data, not text: byte {} (line {line}) is a NUL byte, which text never holds; a .csv file must be text, as Excel or LibreOffice save it", nul + 1),
        ),
        (
            "foto.xlsx",
            "error: cannot open workbook inbox/foto.xlsx: it is not an xlsx workbook (it looks like a PNG image)".to_string(),
        ),
        (
            "halaman.xlsx",
            "error: cannot open workbook inbox/halaman.xlsx: it is not an xlsx workbook (it looks like an HTML web page, as web systems export them); open it in Excel or LibreOffice and save it as .xlsx".to_string(),
        ),
    ];
    for (file, expected) in cases {
        let input = format!("inbox/{file}");
        let run = p.juru(&["run", "rekap", "--input", &input]);
        assert_eq!(run.code(), 2, "{file}: {run}");
        let stderr = run.stderr();
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        assert_eq!(errors, [expected.as_str()], "{file}: {run}");
        p.assert_nothing_written();
    }
}

/// Runs python3 with `code` (xlwt writes the legacy .xls files).
fn python(code: &str) {
    let out = Command::new("python3")
        .args(["-c", code])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python3 failed (is xlwt installed? run .ci/install --tests):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_legacy_xls_that_names_a_far_cell_is_refused_before_it_is_laid_out() {
    let p = Project::new();
    rekap_bot(&p);
    std::fs::create_dir_all(p.path("inbox")).unwrap();
    let far = p.path("inbox/jauh.xls");
    python(&format!(
        "import xlwt\nwb = xlwt.Workbook()\nws = wb.add_sheet('Permohonan')\nws.write(0, 0, 'No')\nws.write(65535, 255, 'x')\nwb.save({:?})\n",
        far.display().to_string()
    ));
    let run = juru_within(&p, 160, &["run", "rekap", "--input", "inbox/jauh.xls"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("error: workbook inbox/jauh.xls is refused: sheet \"Permohonan\" would be laid out as 16,777,216 cells (from its first to its last row and column used), more than the 4,000,000 juru reads from one sheet"),
        "{}",
        run.stderr
    );

    // The same workbook whose DIMENSIONS record claims four billion rows: a
    // reader that believed it would ask for petabytes.
    let mut bytes = std::fs::read(&far).unwrap();
    let at = bytes
        .windows(4)
        .position(|w| w == [0x00, 0x02, 0x0E, 0x00])
        .expect("a DIMENSIONS record");
    bytes[at + 8..at + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(p.path("inbox/bohong.xls"), &bytes).unwrap();
    let run = juru_within(&p, 160, &["run", "rekap", "--input", "inbox/bohong.xls"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("error: workbook inbox/bohong.xls is refused: sheet \"Permohonan\" would be laid out as "),
        "{}",
        run.stderr
    );
    p.assert_nothing_written();
}
