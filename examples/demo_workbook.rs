//! Writes the input workbook of the example bot `bots/demo-perizinan`:
//!
//! ```text
//! cargo run --example demo_workbook -- bots/demo-perizinan/input/permohonan.xlsx
//! ```
//!
//! Sheet `Permohonan`, a bold header row and 25 applications for the bundled
//! demo portal (`juru::demo`). NIK and Telepon are text cells (leading digits
//! and zeros kept), `No` is a number and `Tanggal Pengajuan` a real date cell
//! shown as dd/mm/yyyy.
//!
//! 20 rows are accepted by the portal. Exactly 5 are refused, one per rule:
//!
//! | No | Rule | Why                                    | Portal message                                                    |
//! |----|------|----------------------------------------|-------------------------------------------------------------------|
//! |  4 | 2    | NIK has only 15 digits                 | NIK harus terdiri dari 16 digit angka.                            |
//! |  9 | 3    | NIK starts with 43, no such province   | NIK tidak ditemukan di data kependudukan.                         |
//! | 13 | 6    | Tanggal Pengajuan is 02/04/2099        | Tanggal pengajuan tidak boleh melewati hari ini.                  |
//! | 17 | 7    | Izin Usaha Industri for a Mikro firm   | Izin Usaha Industri tidak dapat diajukan untuk usaha skala Mikro. |
//! | 22 | 8    | repeats row 5's NIK and Tanda Daftar Gudang | Permohonan dengan NIK dan jenis izin yang sama sudah terdaftar. |
//!
//! Row 16 reuses row 1's NIK with a different Jenis Izin and is accepted
//! (only NIK + Jenis Izin together must be unique).

use std::path::PathBuf;

use rust_xlsxwriter::{ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, XlsxError};

const DEFAULT_OUT: &str = "bots/demo-perizinan/input/permohonan.xlsx";

const IUMK: &str = "Izin Usaha Mikro Kecil";
const SIUP: &str = "Surat Izin Usaha Perdagangan";
const IUI: &str = "Izin Usaha Industri";
const TDG: &str = "Tanda Daftar Gudang";

struct Row {
    nik: &'static str,
    nama: &'static str,
    jenis: &'static str,
    skala: &'static str,
    /// (year, month, day)
    tanggal: (u16, u8, u8),
    alamat: &'static str,
    telepon: &'static str,
}

const fn row(
    nik: &'static str,
    nama: &'static str,
    jenis: &'static str,
    skala: &'static str,
    tanggal: (u16, u8, u8),
    alamat: &'static str,
    telepon: &'static str,
) -> Row {
    Row {
        nik,
        nama,
        jenis,
        skala,
        tanggal,
        alamat,
        telepon,
    }
}

const ROWS: [Row; 25] = [
    /* 1 */
    row(
        "3326011203850001",
        "Budi Santoso",
        SIUP,
        "Kecil",
        (2026, 1, 5),
        "Jl. Diponegoro No. 15 RT 002/RW 004, Desa Karanganyar, Kec. Sukamaju, Kabupaten Contoh",
        "081325467890",
    ),
    /* 2 */
    row(
        "3326025508900002",
        "Siti Aminah",
        IUMK,
        "Mikro",
        (2026, 1, 7),
        "Dusun Krajan RT 001/RW 002, Desa Sidomulyo, Kec. Wonorejo, Kabupaten Contoh",
        "085640112233",
    ),
    /* 3 */
    row(
        "3326031707780001",
        "Ahmad Fauzi",
        IUI,
        "Menengah",
        (2026, 1, 12),
        "Kawasan Industri Blok C-7, Desa Tegalsari, Kec. Kedungjati, Kabupaten Contoh",
        "082134509876",
    ),
    /* 4: refused, rule 2 (NIK 15 digits) */
    row(
        "332604630192001",
        "Dewi Lestari",
        IUMK,
        "Mikro",
        (2026, 1, 15),
        "Jl. Melati No. 3 RT 005/RW 001, Kel. Kauman, Kec. Kota Contoh, Kabupaten Contoh",
        "087731245566",
    ),
    /* 5 */
    row(
        "3326056102880003",
        "Rina Marlina",
        TDG,
        "Kecil",
        (2026, 1, 20),
        "Jl. Raya Pantura Km. 12, Desa Banyuurip, Kec. Sukamaju, Kabupaten Contoh",
        "081228904512",
    ),
    /* 6 */
    row(
        "3326060909750002",
        "Joko Susilo",
        SIUP,
        "Menengah",
        (2026, 2, 2),
        "Ruko Pasar Baru Blok A No. 9, Kel. Pekuncen, Kec. Kota Contoh, Kabupaten Contoh",
        "081390127744",
    ),
    /* 7 */
    row(
        "3326074411920001",
        "Nur Hidayah",
        IUMK,
        "Mikro",
        (2026, 2, 10),
        "Gg. Mawar II No. 21 RT 003/RW 006, Desa Purwosari, Kec. Wonorejo, Kabupaten Contoh",
        "085727781209",
    ),
    /* 8 */
    row(
        "3326081504830004",
        "Agus Prasetyo",
        IUI,
        "Kecil",
        (2026, 2, 18),
        "Jl. Pahlawan No. 44, Desa Ngaliyan, Kec. Kedungjati, Kabupaten Contoh",
        "082225671034",
    ),
    /* 9: refused, rule 3 (province code 43 does not exist) */
    row(
        "4326096806870002",
        "Sri Wahyuni",
        SIUP,
        "Kecil",
        (2026, 3, 3),
        "Jl. Kenanga No. 7 RT 004/RW 003, Desa Mojosari, Kec. Sukamaju, Kabupaten Contoh",
        "089612340987",
    ),
    /* 10 */
    row(
        "3326100101800005",
        "Hendra Gunawan",
        TDG,
        "Menengah",
        (2026, 3, 11),
        "Kompleks Pergudangan Sentosa No. 12, Desa Tambakrejo, Kec. Kedungjati, Kabupaten Contoh",
        "081802345671",
    ),
    /* 11 */
    row(
        "3326016312950001",
        "Yuliana Putri",
        SIUP,
        "Mikro",
        (2026, 3, 19),
        "Jl. Veteran No. 88, Kel. Bugangan, Kec. Kota Contoh, Kabupaten Contoh",
        "087834561290",
    ),
    /* 12 */
    row(
        "3326022207810003",
        "Bambang Sutrisno",
        IUI,
        "Menengah",
        (2026, 3, 26),
        "Jl. Industri Raya No. 5, Desa Kalisari, Kec. Wonorejo, Kabupaten Contoh",
        "081227893345",
    ),
    /* 13: refused, rule 6 (date in 2099) */
    row(
        "3326030304860002",
        "Eko Wibowo",
        IUMK,
        "Kecil",
        (2099, 4, 2),
        "Dusun Ngemplak RT 002/RW 005, Desa Jatirejo, Kec. Sukamaju, Kabupaten Contoh",
        "085290876612",
    ),
    /* 14 */
    row(
        "3326045006930004",
        "Fitri Handayani",
        IUMK,
        "Mikro",
        (2026, 4, 8),
        "Jl. Anggrek No. 17 RT 001/RW 007, Kel. Sidorejo, Kec. Kota Contoh, Kabupaten Contoh",
        "081575543218",
    ),
    /* 15 */
    row(
        "3326051010790001",
        "Slamet Riyadi",
        TDG,
        "Kecil",
        (2026, 4, 16),
        "Jl. Stasiun Lama No. 2, Desa Karangrejo, Kec. Kedungjati, Kabupaten Contoh",
        "082137765401",
    ),
    /* 16: same NIK as row 1, different Jenis Izin (accepted) */
    row(
        "3326011203850001",
        "Budi Santoso",
        TDG,
        "Kecil",
        (2026, 4, 24),
        "Jl. Diponegoro No. 15A RT 002/RW 004, Desa Karanganyar, Kec. Sukamaju, Kabupaten Contoh",
        "081325467890",
    ),
    /* 17: refused, rule 7 (Izin Usaha Industri, skala Mikro) */
    row(
        "3326062508890003",
        "Wahyu Hidayat",
        IUI,
        "Mikro",
        (2026, 5, 6),
        "Jl. Kartini No. 30 RT 006/RW 002, Desa Pandean, Kec. Wonorejo, Kabupaten Contoh",
        "085866120934",
    ),
    /* 18 */
    row(
        "3326075203910002",
        "Kartika Sari",
        SIUP,
        "Kecil",
        (2026, 5, 14),
        "Jl. Sudirman No. 120, Kel. Kauman, Kec. Kota Contoh, Kabupaten Contoh",
        "081990345678",
    ),
    /* 19 */
    row(
        "3326081811770001",
        "Suparman",
        IUI,
        "Menengah",
        (2026, 5, 27),
        "Desa Sumberejo RT 003/RW 001, Kec. Kedungjati, Kabupaten Contoh",
        "082326650091",
    ),
    /* 20 */
    row(
        "3326094709960005",
        "Ratna Sari Dewi",
        IUMK,
        "Mikro",
        (2026, 6, 9),
        "Gg. Delima No. 4 RT 002/RW 003, Desa Wonosari, Kec. Sukamaju, Kabupaten Contoh",
        "089677234511",
    ),
    /* 21 */
    row(
        "3326100705840002",
        "Dedi Kurniawan",
        SIUP,
        "Menengah",
        (2026, 6, 23),
        "Jl. Gajah Mada No. 56, Kel. Pekuncen, Kec. Kota Contoh, Kabupaten Contoh",
        "081326098812",
    ),
    /* 22: refused, rule 8 (row 5 again: same NIK and Tanda Daftar Gudang) */
    row(
        "3326056102880003",
        "Rina Marlina",
        TDG,
        "Kecil",
        (2026, 7, 14),
        "Jl. Raya Pantura Km. 12, Desa Banyuurip, Kec. Sukamaju, Kabupaten Contoh",
        "081228904512",
    ),
    /* 23 */
    row(
        "3326026808870001",
        "Indah Permatasari",
        TDG,
        "Kecil",
        (2026, 8, 4),
        "Jl. Cempaka No. 11 RT 004/RW 002, Desa Kalisari, Kec. Wonorejo, Kabupaten Contoh",
        "085713349087",
    ),
    /* 24 */
    row(
        "3326031402900003",
        "Rudi Hartono",
        IUI,
        "Kecil",
        (2026, 9, 15),
        "Jl. Pemuda No. 9, Desa Tegalsari, Kec. Kedungjati, Kabupaten Contoh",
        "087812093456",
    ),
    /* 25 */
    row(
        "3326044305940002",
        "Maya Anggraini",
        IUMK,
        "Mikro",
        (2026, 10, 12),
        "Dusun Sabrang RT 001/RW 004, Desa Mojosari, Kec. Sukamaju, Kabupaten Contoh",
        "082138876540",
    ),
];

const HEADERS: [(&str, f64); 8] = [
    ("No", 5.0),
    ("NIK", 19.0),
    ("Nama Pemohon", 22.0),
    ("Jenis Izin", 30.0),
    ("Skala Usaha", 12.0),
    ("Tanggal Pengajuan", 18.0),
    ("Alamat", 80.0),
    ("Telepon", 15.0),
];

fn write(out: &PathBuf) -> Result<(), XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Permohonan")?;

    let header = Format::new()
        .set_bold()
        .set_background_color("#D9E1F2")
        .set_border(FormatBorder::Thin);
    let text = Format::new().set_num_format("@");
    let date = Format::new()
        .set_num_format("dd/mm/yyyy")
        .set_align(FormatAlign::Left);

    for (col, (title, width)) in HEADERS.iter().enumerate() {
        let col = col as u16;
        sheet.write_string_with_format(0, col, *title, &header)?;
        sheet.set_column_width(col, *width)?;
    }
    sheet.set_freeze_panes(1, 0)?;

    for (i, r) in ROWS.iter().enumerate() {
        let line = i as u32 + 1;
        let (y, m, d) = r.tanggal;
        sheet.write_number(line, 0, f64::from(line))?;
        sheet.write_string_with_format(line, 1, r.nik, &text)?;
        sheet.write_string(line, 2, r.nama)?;
        sheet.write_string(line, 3, r.jenis)?;
        sheet.write_string(line, 4, r.skala)?;
        sheet.write_datetime_with_format(line, 5, ExcelDateTime::from_ymd(y, m, d)?, &date)?;
        sheet.write_string(line, 6, r.alamat)?;
        sheet.write_string_with_format(line, 7, r.telepon, &text)?;
    }

    workbook.save(out)
}

fn main() {
    let out = PathBuf::from(
        std::env::args_os()
            .nth(1)
            .unwrap_or_else(|| DEFAULT_OUT.into()),
    );
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("demo_workbook: cannot create {}: {e}", dir.display());
            std::process::exit(1);
        }
    }
    match write(&out) {
        Ok(()) => println!(
            "demo_workbook: wrote {} ({} rows)",
            out.display(),
            ROWS.len()
        ),
        Err(e) => {
            eprintln!("demo_workbook: cannot write {}: {e}", out.display());
            std::process::exit(1);
        }
    }
}
