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

#[test]
fn a_csv_file_larger_than_juru_reads_is_refused() {
    use std::io::Write;
    let p = Project::with_demo_bot();
    std::fs::create_dir_all(p.path("inbox")).unwrap();
    let path = p.path("inbox/besar.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "No,NIK").unwrap();
    let line = b"1,3201010101010001\n".repeat(1 << 16);
    while out.get_ref().metadata().unwrap().len() < juru::sheet::guard::MAX_TEXT_FILE {
        out.write_all(&line).unwrap();
        out.flush().unwrap();
    }
    drop(out);
    let run = p.juru(&["run", "demo-perizinan", "--input", "inbox/besar.csv"]);
    assert_eq!(run.code(), 2, "{run}");
    let stderr = run.stderr();
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{run}");
    assert!(
        errors[0].starts_with("error: workbook inbox/besar.csv is refused: it is 64.")
            && errors[0].ends_with(
                " MB, more than the 64.0 MB juru reads from a text file; split it, or save it as .xlsx"
            ),
        "{run}"
    );
    p.assert_nothing_written();
}

#[test]
fn a_cell_holding_more_text_than_a_cell_may_is_refused() {
    let p = Project::with_demo_bot();
    std::fs::create_dir_all(p.path("inbox")).unwrap();
    let mut text = String::from("NIK;Nama Pemohon;Jenis Izin;Skala Usaha;Tanggal Pengajuan\n");
    text.push_str("3201010101010001;Ani;SIUP;Mikro;01/03/2024\n");
    text.push_str("3201010101010002;");
    text.push_str(&"B".repeat((1 << 20) + 1));
    text.push_str(";SIUP;Mikro;01/03/2024\n");
    p.write("inbox/Permohonan.csv", &text);
    let run = p.juru(&["run", "demo-perizinan", "--input", "inbox/Permohonan.csv"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr().contains(
            "error: workbook inbox/Permohonan.csv is refused: value 2 of line 3 holds 1.0 MB of text, more than the 1.0 MB juru reads from one cell (Excel itself keeps at most 32,767 characters in a cell)"
        ),
        "{run}"
    );
    p.assert_nothing_written();
}
