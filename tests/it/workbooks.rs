//! Input workbooks as clerks send them (the files of `tests/fixtures/workbooks/`,
//! written by its `make.py`): what becomes a work item, which rows are passed over
//! and why, as a real `juru run` of a bot without browser use records them.

use std::path::Path;

use crate::support::{Project, REPO};

/// A bot `gaji` reading `workbook` (copied into its folder) with `input` added to
/// its `[input]`, whose script only copies the name into an output.
fn gaji_bot(p: &Project, workbook: &str, input: &str) {
    let name = Path::new(workbook)
        .file_name()
        .and_then(|n| n.to_str())
        .expect("file name");
    p.write(
        "bots/gaji/bot.toml",
        &format!("name = \"gaji\"\n[input]\nworkbook = \"{name}\"\n{input}\n"),
    );
    p.write(
        "bots/gaji/main.rhai",
        "fn process(item) {\n    item.output(\"Nama\", `${item[\"Nama\"]}`);\n}\n",
    );
    std::fs::copy(
        Path::new(REPO)
            .join("tests/fixtures/workbooks")
            .join(workbook),
        p.path("bots/gaji").join(name),
    )
    .expect("fixture copied");
}

/// Runs the bot and returns `juru runs show --json` of the run.
fn run_and_show(p: &Project) -> serde_json::Value {
    let run = p.juru(&["run", "gaji", "--json"]);
    assert_eq!(run.code(), 0, "{run}");
    // A bot that only reads its input starts no browser.
    assert!(!run.stderr().contains("chromedriver started"), "{run}");
    assert!(p.processes().is_empty(), "{:?}", p.processes());
    let summary: serde_json::Value =
        serde_json::from_str(run.stdout().lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}: {run}"));
    let id = summary["run"].as_str().expect("run id").to_string();
    let show = p.juru(&["runs", "show", &id, "--json"]);
    assert_eq!(show.code(), 0, "{show}");
    serde_json::from_str(show.stdout().trim()).unwrap_or_else(|e| panic!("{e}: {show}"))
}

fn rows_and_names(show: &serde_json::Value) -> Vec<(i64, String, String)> {
    show["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["row"].as_i64().unwrap_or(-1),
                i["state"].as_str().unwrap_or_default().to_string(),
                i["outputs"]
                    .as_array()
                    .and_then(|o| o.iter().find(|pair| pair[0] == "Nama"))
                    .and_then(|pair| pair[1].as_str())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

fn passed(show: &serde_json::Value) -> Vec<String> {
    show["passed_over"]
        .as_array()
        .expect("passed_over")
        .iter()
        .map(|p| p["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn the_table_ends_where_the_data_ends_in_every_format() {
    for workbook in ["gaji.xlsx", "gaji.xls", "gaji.ods", "gaji.csv"] {
        let p = Project::new();
        gaji_bot(&p, workbook, "");
        let show = run_and_show(&p);
        assert_eq!(
            rows_and_names(&show),
            vec![
                (4, "done".into(), "Ani Suryani".into()),
                (5, "done".into(), "Budi Santoso".into()),
                (6, "done".into(), "Citra Lestari".into()),
            ],
            "{workbook}: {show:#}"
        );
        assert_eq!(
            passed(&show),
            [
                "rows 7–10: numbered row without data",
                "row 11: total row",
                "rows 13–16: below the table",
            ],
            "{workbook}: {show:#}"
        );
        assert_eq!(
            show["passed_over"][1]["reason"], "total",
            "{workbook}: {show:#}"
        );
    }
}

#[test]
fn passed_over_rows_are_in_the_summary_and_runs_show() {
    let p = Project::new();
    gaji_bot(
        &p,
        "gaji.xlsx",
        "sheet = \"Gaji\"\nrequired = [\"NIP\", \"Nama\"]",
    );
    let show = run_and_show(&p);
    let id = show["run"].as_str().expect("id");
    // Indonesian by default in the officers' mail and the summary sheet.
    let outbox = p.files("var/outbox");
    let mails: String = outbox
        .iter()
        .map(|f| std::fs::read_to_string(p.path("var/outbox").join(f)).unwrap_or_default())
        .collect();
    let exceptions = juru::sheet::read(
        &p.path(show["folder"].as_str().expect("folder"))
            .join("exceptions.xlsx"),
        Some("Ringkasan"),
    );
    let summary_text = match exceptions {
        Ok(t) => t
            .rows
            .iter()
            .map(|r| {
                r.cells
                    .iter()
                    .map(|c| c.to_text())
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => format!("{e}"),
    };
    let expected =
        "baris 7–10: baris bernomor tanpa isi; baris 11: baris jumlah; baris 13–16: di bawah tabel";
    assert!(
        summary_text.contains(expected) || mails.contains(expected),
        "summary: {summary_text}\nmails ({outbox:?}): {mails}"
    );
    let plain = p.juru(&["runs", "show", id]);
    assert_eq!(plain.code(), 0, "{plain}");
    assert!(
        plain.stdout().contains("input rows passed over (not work items):\n  rows 7–10: numbered row without data\n  row 11: total row\n  rows 13–16: below the table"),
        "{plain}"
    );
}

fn item(show: &serde_json::Value, row: i64) -> &serde_json::Value {
    show["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["row"] == row))
        .unwrap_or_else(|| panic!("no item of row {row}: {show:#}"))
}

#[test]
fn declared_types_normalise_values_and_refuse_damaged_ones() {
    let p = Project::new();
    gaji_bot(
        &p,
        "pegawai.xlsx",
        "[input.columns]\nNIK = \"nik\"\nNIP = \"nip\"\n\"Tanggal Mulai\" = \"date\"\n\"Gaji Pokok\" = \"rupiah\"\nAktif = \"yes_no\"",
    );
    let show = run_and_show(&p);
    let good = item(&show, 2);
    assert_eq!(good["state"], "done", "{show:#}");
    assert_eq!(
        good["data"],
        serde_json::json!([
            1,
            "3217027001920004",
            "198803052010121001",
            "Dewi Lestari",
            {"date": "2026-03-09"},
            4100000,
            true
        ]),
        "{show:#}"
    );
    let reasons: Vec<(i64, String, String)> = (3..=7)
        .map(|row| {
            let i = item(&show, row);
            (
                row,
                i["state"].as_str().unwrap_or_default().to_string(),
                i["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let business =
        |row: i64, reason: &str| (row, "business_exception".to_string(), reason.to_string());
    assert_eq!(
        reasons,
        vec![
            business(3, "NIP (sel C3) disimpan sebagai angka di Excel sehingga digit terakhir hilang; minta berkas dengan kolom NIP sebagai teks"),
            business(4, "NIK (sel B4) disimpan sebagai angka di Excel sehingga digit terakhir hilang; minta berkas dengan kolom NIK sebagai teks"),
            business(5, "sel F5 (kolom Gaji Pokok) berisi galat #VALUE!; perbaiki rumusnya di Excel lalu kirim ulang berkasnya"),
            business(6, "sel F6 (kolom Gaji Pokok) berisi rumus tanpa nilai tersimpan; buka berkas di Excel atau LibreOffice, simpan ulang, lalu kirim lagi"),
            business(7, "NIK harus 16 digit, sel B7 berisi \"321702700192\" (12 digit); sel E7 (kolom Tanggal Mulai) bukan tanggal yang dikenali: \"31/02/2026\"; tulis seperti 17/08/1985 atau 17 Agustus 1985"),
        ],
        "{show:#}"
    );
    // The script never saw the refused rows.
    for row in 3..=7 {
        assert_eq!(
            item(&show, row)["outputs"],
            serde_json::json!([]),
            "{show:#}"
        );
    }
}

#[test]
fn an_unknown_declared_column_is_a_config_error() {
    let p = Project::new();
    gaji_bot(&p, "pegawai.xlsx", "[input.columns]\nNPWP = \"text\"");
    let run = p.juru(&["run", "gaji"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr()
            .contains("lacks the typed column \"NPWP\" listed in")
            && run.stderr().contains("input.columns"),
        "{run}"
    );
    let p = Project::new();
    gaji_bot(&p, "pegawai.xlsx", "[input.columns]\nNIK = \"ktp\"");
    let check = p.juru(&["check"]);
    assert_eq!(check.code(), 2, "{check}");
    assert!(
        check
            .stderr()
            .contains("input.columns.\"NIK\": \"ktp\" is not a column type juru knows"),
        "{check}"
    );
}

#[test]
fn undeclared_columns_are_judged_as_a_whole() {
    let p = Project::new();
    p.write(
        "bots/gaji/bot.toml",
        "name = \"gaji\"\n[input]\nworkbook = \"masuk.csv\"\n",
    );
    p.write(
        "bots/gaji/main.rhai",
        "fn process(item) {\n    item.output(\"baris\", item.row);\n}\n",
    );
    // Indonesian amounts (one of them ambiguous alone), English decimals,
    // a column of only ambiguous values, a quoted value over two lines.
    p.write(
        "bots/gaji/masuk.csv",
        "Nama,Jumlah,Harga,Kode,Alamat\n\
         Ani,875.500,2.5,1.500,\"Jl. Merdeka 5\nBogor\"\n\
         Budi,1.250.000,875.500,2.250,Cibinong\n\
         Citra,\"1.000.000,50\",12.75,3.750,'0251\n",
    );
    let show = run_and_show(&p);
    let data: Vec<&serde_json::Value> = (2..=4).map(|row| &item(&show, row)["data"]).collect();
    assert_eq!(
        data,
        vec![
            &serde_json::json!(["Ani", 875500, {"float": 2.5}, "1.500", "Jl. Merdeka 5\nBogor"]),
            &serde_json::json!(["Budi", 1250000, {"float": 875.5}, "2.250", "Cibinong"]),
            &serde_json::json!(["Citra", {"float": 1000000.5}, {"float": 12.75}, "3.750", "0251"]),
        ],
        "{show:#}"
    );
}

#[test]
fn visible_only_passes_over_hidden_rows() {
    for workbook in ["tersembunyi.xlsx", "tersembunyi.ods"] {
        let p = Project::new();
        gaji_bot(&p, workbook, "visible_only = true");
        let show = run_and_show(&p);
        assert_eq!(
            rows_and_names(&show),
            vec![
                (2, "done".into(), "Ani".into()),
                (4, "done".into(), "Citra".into()),
            ],
            "{workbook}: {show:#}"
        );
        assert_eq!(
            passed(&show),
            ["row 3: hidden row", "rows 5–6: hidden row"],
            "{workbook}: {show:#}"
        );
        // Without the key, hidden rows are items as before.
        let p = Project::new();
        gaji_bot(&p, workbook, "");
        let show = run_and_show(&p);
        assert_eq!(rows_and_names(&show).len(), 5, "{workbook}: {show:#}");
    }
    // A format whose hidden rows juru cannot tell is refused before the run starts.
    let p = Project::new();
    gaji_bot(&p, "gaji.xls", "visible_only = true");
    let run = p.juru(&["run", "gaji"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr()
            .contains("juru can tell hidden rows only in .xlsx, .xlsm and .ods workbooks")
            && run.stderr().contains("input.visible_only"),
        "{run}"
    );
    p.assert_nothing_written();
}

#[test]
fn scripts_get_dates_and_the_workbook_column_order() {
    let p = Project::new();
    gaji_bot(
        &p,
        "pegawai.xlsx",
        "[input.columns]\n\"Tanggal Mulai\" = \"date\"",
    );
    p.write(
        "bots/gaji/main.rhai",
        r#"fn process(item) {
    let d = item["Tanggal Mulai"];
    item.output("kolom", item.columns());
    item.output("jenis", type_of(d));
    item.output("teks", `mulai ${d}`);
    if type_of(d) == "Date" {
        item.output("iso", d.iso());
        item.output("tahun", d.year);
        item.output("sebelum", d < date(2026, 1, 1));
    }
    item.output("mulai", d);
}
"#,
    );
    let show = run_and_show(&p);
    let outputs = |row: i64| item(&show, row)["outputs"].clone();
    // A real date cell, and in a `date` column date text.
    assert_eq!(
        outputs(2),
        serde_json::json!([
            ["kolom", "[\"No\", \"NIK\", \"NIP\", \"Nama\", \"Tanggal Mulai\", \"Gaji Pokok\", \"Aktif\"]"],
            ["jenis", "Date"],
            ["teks", "mulai 09/03/2026"],
            ["iso", "2026-03-09"],
            ["tahun", 2026],
            ["sebelum", false],
            ["mulai", {"date": "2026-03-09"}]
        ]),
        "{show:#}"
    );
    let mulai = |row: i64| {
        outputs(row)
            .as_array()
            .and_then(|o| o.iter().find(|pair| pair[0] == "mulai").cloned())
            .map(|pair| pair[1].clone())
    };
    assert_eq!(
        mulai(3),
        Some(serde_json::json!({"date": "1983-04-09"})),
        "{show:#}"
    );
    assert_eq!(
        mulai(4),
        Some(serde_json::json!({"date": "1985-08-17"})),
        "{show:#}"
    );
    // output.xlsx holds real dates.
    let out = juru::sheet::read(
        &p.path(show["folder"].as_str().expect("folder"))
            .join("output.xlsx"),
        None,
    )
    .expect("output.xlsx");
    let col = out.column("mulai").expect("mulai column");
    assert!(
        matches!(out.rows[0].cells[col], juru::sheet::Cell::Date(_)),
        "{:?}",
        out.rows[0]
    );
}

#[test]
fn a_column_mostly_of_dates_reads_its_date_text() {
    let p = Project::new();
    gaji_bot(&p, "tanggal.xlsx", "");
    let show = run_and_show(&p);
    let data: Vec<serde_json::Value> = (2..=7)
        .map(|row| item(&show, row)["data"][1].clone())
        .collect();
    assert_eq!(
        data,
        vec![
            serde_json::json!({"date": "2026-03-02"}),
            serde_json::json!({"date": "2026-03-03"}),
            serde_json::json!({"date": "2026-03-04"}),
            serde_json::json!({"date": "1985-08-17"}),
            serde_json::json!({"date": "1983-04-09"}),
            serde_json::json!({"date": "2026-03-09"}),
        ],
        "{show:#}"
    );
    // Beside it, a column of names with one date-like text stays text.
    assert_eq!(item(&show, 7)["data"][2], "17 Agustus 1985", "{show:#}");
}

#[test]
fn ods_booleans_are_booleans() {
    use juru::sheet::Cell;
    let t = juru::sheet::read(
        &Path::new(REPO).join("tests/fixtures/workbooks/aktif.ods"),
        None,
    )
    .expect("aktif.ods");
    let cells: Vec<Vec<Cell>> = t.rows.iter().map(|r| r.cells.clone()).collect();
    assert_eq!(
        cells,
        vec![
            vec![Cell::Text("Ani".into()), Cell::Bool(true), Cell::Int(1)],
            vec![Cell::Text("Budi".into()), Cell::Bool(false), Cell::Int(0)],
        ]
    );
}
