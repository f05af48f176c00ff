//! Bad input workbooks: one clear sentence, exit 2, no run folder left behind.

use crate::support::Project;

#[test]
fn missing_input_file() {
    let p = Project::with_demo_bot();
    let run = p.juru(&["run", "demo-perizinan", "--input", "inbox/tidak-ada.xlsx"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr().contains("inbox/tidak-ada.xlsx") && run.stderr().contains("does not exist"),
        "{run}"
    );
    p.assert_nothing_written();
}

#[test]
fn workbook_without_a_required_column() {
    let p = Project::with_demo_bot();
    let path = p.path("inbox/kurang.xlsx");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Permohonan").unwrap();
    for (c, h) in ["No", "NIK", "Nama Pemohon", "Skala Usaha"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_number(1, 0, 1.0).unwrap();
    ws.write_string(1, 1, "3201010101010001").unwrap();
    wb.save(&path).unwrap();

    let run = p.juru(&["run", "demo-perizinan", "--input", "inbox/kurang.xlsx"]);
    assert_eq!(run.code(), 2, "{run}");
    let err = run.stderr();
    assert!(err.contains("inbox/kurang.xlsx"), "{run}");
    assert!(
        err.contains("\"Jenis Izin\", \"Tanggal Pengajuan\""),
        "{run}"
    );
    assert!(
        err.contains("its columns are \"No\", \"NIK\", \"Nama Pemohon\", \"Skala Usaha\""),
        "{run}"
    );
    p.assert_nothing_written();
}

#[test]
fn missing_sheet_lists_the_sheets() {
    let p = Project::with_demo_bot();
    let manifest = std::fs::read_to_string(p.path("bots/demo-perizinan/bot.toml")).unwrap();
    p.write(
        "bots/demo-perizinan/bot.toml",
        &manifest.replace("sheet = \"Permohonan\"", "sheet = \"Data Usulan\""),
    );
    let run = p.juru(&["run", "demo-perizinan"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stderr().contains("no sheet \"Data Usulan\""), "{run}");
    assert!(run.stderr().contains("\"Permohonan\""), "{run}");
    p.assert_nothing_written();
}
