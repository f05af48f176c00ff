//! `read_workbook`, `write_workbook`: workbooks besides the run's input and
//! outputs — a lookup table kept in the bot folder, a report of the bot's own.
//!
//! Reads look in the bot folder, then in the run's folder; writes go into the
//! run's folder only. Paths are relative, without `..`; a link that leads out
//! of those folders is refused. Both are blocking file I/O on the script's
//! thread; errors are system exceptions of kind `workbook` (or `path` /
//! `path_outside` for a path a script may not use, `script` for bad options,
//! `limit` for a workbook larger than a script may hold).

use std::path::{Component, Path};
use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, Map};

use super::item::{cell_to_dynamic, dynamic_to_cell};
use super::{Failure, Res};
use crate::script::{Shared, MAX_ARRAY_VALUES, MAX_MAP_ENTRIES, MAX_STRING_BYTES};
use crate::sheet::{
    self, parse_delimiter, parse_display_date, Cell, Encoding, OutRow, OutSheet, ReadOptions,
    SheetRef,
};

const READ_OPTIONS: &str =
    "sheet, header_row, trim, rename, dates, filter, required, delimiter, encoding";
const SHEET_KEYS: &str = "name, rows, columns";
/// Files juru writes into the run folder itself at the end of a run.
const RESERVED: [&str; 2] = ["output.xlsx", "exceptions.xlsx"];

pub(super) fn register(engine: &mut Engine, shared: &Rc<Shared>) {
    let s = shared.clone();
    engine.register_fn("read_workbook", move |path: &str| -> Res<Array> {
        read(&s, path, ReadOptions::default())
    });
    let s = shared.clone();
    engine.register_fn(
        "read_workbook",
        move |path: &str, options: Map| -> Res<Array> {
            let options = read_options(&options)?;
            read(&s, path, options)
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "write_workbook",
        move |path: &str, data: Array| -> Res<String> {
            let sheets = sheets_from_array(data)?;
            write(&s, path, &sheets)
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "write_workbook",
        move |path: &str, sheet: Map| -> Res<String> {
            let sheet = sheet_from_spec(&sheet, 0)?;
            write(&s, path, &[sheet])
        },
    );
}

fn script_error(message: impl Into<String>) -> Box<rhai::EvalAltResult> {
    Failure::system("script", message).into()
}

// ---- reading --------------------------------------------------------------------

fn read(shared: &Shared, path: &str, options: ReadOptions) -> Res<Array> {
    let full = shared.readable_path(path)?;
    let table = sheet::read_with(&full, &options)
        .map_err(|e| Failure::system("workbook", e.to_string()))?;
    // What a script may hold in one array (see `script::sandbox`): said plainly here
    // rather than as a bare size error after the whole array was built.
    let cells = table.rows.len() * table.headers.len();
    let text: usize = table
        .rows
        .iter()
        .flat_map(|r| r.cells.iter().take(table.headers.len()))
        .filter(|c| !matches!(c, Cell::Int(_) | Cell::Float(_) | Cell::Bool(_)))
        .map(|c| c.to_text().len())
        .sum();
    if cells > MAX_MAP_ENTRIES || table.rows.len() > MAX_ARRAY_VALUES || text > MAX_STRING_BYTES {
        return Err(Failure::system(
            "limit",
            format!(
                "read_workbook(\"{path}\"): {} rows of {} columns ({cells} cells, {text} bytes of text) are more than a script may hold at once ({MAX_MAP_ENTRIES} cells, {} MiB of text); read fewer rows with the `filter` option or split the workbook",
                table.rows.len(),
                table.headers.len(),
                MAX_STRING_BYTES / (1024 * 1024)
            ),
        )
        .into());
    }
    Ok(table
        .rows
        .iter()
        .map(|row| {
            let map: Map = table
                .headers
                .iter()
                .zip(&row.cells)
                .map(|(h, c)| (h.as_str().into(), cell_to_dynamic(c)))
                .collect();
            Dynamic::from_map(map)
        })
        .collect())
}

/// The options map of `read_workbook(path, options)` as [`ReadOptions`].
fn read_options(map: &Map) -> Res<ReadOptions> {
    let mut o = ReadOptions::default();
    for (key, value) in map {
        let wrong = |expected: &str| {
            script_error(format!(
                "read_workbook option `{key}` must be {expected}, not {}",
                describe(value)
            ))
        };
        match key.as_str() {
            "sheet" => {
                o.sheet = Some(if let Ok(i) = value.as_int() {
                    match usize::try_from(i) {
                        Ok(i) if i >= 1 => SheetRef::Index(i),
                        _ => return Err(wrong("a sheet name or its position (1 = the first)")),
                    }
                } else if value.is_string() {
                    SheetRef::Name(value.to_string())
                } else {
                    return Err(wrong("a sheet name or its position (1 = the first)"));
                })
            }
            "header_row" => match value.as_int().ok().and_then(|i| u32::try_from(i).ok()) {
                Some(r) if r >= 1 => o.header_row = Some(r),
                _ => return Err(wrong("the header's row number (1 = the first row)")),
            },
            "trim" => o.trim = value.as_bool().map_err(|_| wrong("true or false"))?,
            "rename" => {
                let renames = value
                    .read_lock::<Map>()
                    .ok_or_else(|| wrong("a map like #{ \"No KTP\": \"NIK\" }"))?;
                for (from, to) in renames.iter() {
                    if !to.is_string() || to.to_string().trim().is_empty() {
                        return Err(wrong("a map like #{ \"No KTP\": \"NIK\" }"));
                    }
                    o.rename.push((from.to_string(), to.to_string()));
                }
            }
            "dates" => o.dates = texts(value).ok_or_else(|| wrong("a list of column names"))?,
            "required" => {
                o.required = texts(value).ok_or_else(|| wrong("a list of column names"))?
            }
            "filter" => {
                let filter = value
                    .read_lock::<Map>()
                    .ok_or_else(|| wrong("a map like #{ Status: \"BARU\" }"))?;
                for (column, accepted) in filter.iter() {
                    let values: Vec<String> = match accepted.read_lock::<Array>() {
                        Some(list) => list.iter().map(filter_text).collect(),
                        None => vec![filter_text(accepted)],
                    };
                    if values.is_empty() {
                        return Err(wrong("a map like #{ Status: \"BARU\" }"));
                    }
                    o.filter.push((column.to_string(), values));
                }
            }
            "delimiter" => {
                o.csv.delimiter = parse_delimiter(&value.to_string())
                    .map_err(|m| script_error(format!("read_workbook option `delimiter`: {m}")))?
            }
            "encoding" => {
                o.csv.encoding = Encoding::parse(&value.to_string())
                    .map_err(|m| script_error(format!("read_workbook option `encoding`: {m}")))?
            }
            other => {
                return Err(script_error(format!(
                    "unknown read_workbook option `{other}`; the options are: {READ_OPTIONS}"
                )))
            }
        }
    }
    Ok(o)
}

/// A list of texts (or one text).
fn texts(value: &Dynamic) -> Option<Vec<String>> {
    if value.is_string() {
        return Some(vec![value.to_string()]);
    }
    value
        .read_lock::<Array>()?
        .iter()
        .map(|v| v.is_string().then(|| v.to_string()))
        .collect()
}

fn filter_text(value: &Dynamic) -> String {
    dynamic_to_cell(value).to_text()
}

fn describe(value: &Dynamic) -> String {
    if value.is_string() {
        format!("\"{value}\"")
    } else {
        format!("{} {value}", value.type_name())
    }
}

// ---- writing --------------------------------------------------------------------

fn write(shared: &Shared, path: &str, sheets: &[OutSheet]) -> Res<String> {
    let relative = Path::new(path);
    let is_xlsx = relative
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    if !is_xlsx {
        return Err(Failure::system(
            "workbook",
            format!("write_workbook writes .xlsx workbooks; \"{path}\" must end in .xlsx"),
        )
        .into());
    }
    let top_level = relative
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .count()
        == 1;
    if top_level
        && RESERVED
            .iter()
            .any(|r| path.trim_start_matches("./").eq_ignore_ascii_case(r))
    {
        return Err(Failure::system(
            "workbook",
            format!("\"{path}\" is the name of a workbook juru writes at the end of the run; choose another name"),
        )
        .into());
    }
    let full = shared.writable_path(path)?;
    let outside = || {
        Failure::system(
            "path_outside",
            format!("\"{path}\" leads outside the run's folder (through a link); write_workbook writes only inside it"),
        )
    };
    if let Some(folder) = full.parent() {
        // The deepest folder that exists must be inside the run's folder once
        // links are resolved; only then are the missing ones created.
        let base = shared
            .work_dir
            .canonicalize()
            .map_err(|e| Failure::system("workbook", format!("the run's folder: {e}")))?;
        let existing = folder
            .ancestors()
            .find(|a| a.exists())
            .unwrap_or(&shared.work_dir);
        let real = existing
            .canonicalize()
            .map_err(|e| Failure::system("workbook", format!("\"{path}\": {e}")))?;
        if !real.starts_with(&base) {
            return Err(outside().into());
        }
        std::fs::create_dir_all(folder).map_err(|e| {
            Failure::system(
                "workbook",
                format!("cannot create the folder for \"{path}\" in the run's folder: {e}"),
            )
        })?;
    }
    if std::fs::symlink_metadata(&full).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(outside().into());
    }
    sheet::write(&full, sheets).map_err(|e| Failure::system("workbook", e.to_string()))?;
    Ok(relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/"))
}

/// `write_workbook(path, array)`: an array of sheet maps (`#{ name, rows,
/// columns }`), or an array of rows for one sheet.
fn sheets_from_array(data: Array) -> Res<Vec<OutSheet>> {
    let is_spec = |v: &Dynamic| {
        v.read_lock::<Map>()
            .is_some_and(|m| m.get("rows").is_some_and(|r| r.is_array()))
    };
    if !data.is_empty() && data.iter().all(is_spec) {
        return data
            .iter()
            .enumerate()
            .map(|(i, spec)| match spec.read_lock::<Map>() {
                Some(map) => sheet_from_spec(&map, i),
                None => Err(script_error("write_workbook: a sheet must be a map")),
            })
            .collect();
    }
    Ok(vec![sheet_from_rows("Sheet1", &data, &[])?])
}

/// One `#{ name: "Rekap", rows: [...], columns: [...] }`.
fn sheet_from_spec(spec: &Map, index: usize) -> Res<OutSheet> {
    if let Some(key) = spec
        .keys()
        .find(|k| !["name", "rows", "columns"].contains(&k.as_str()))
    {
        return Err(script_error(format!(
            "unknown write_workbook sheet key `{key}`; the keys are: {SHEET_KEYS}"
        )));
    }
    let name = match spec.get("name") {
        None => format!("Sheet{}", index + 1),
        Some(n) if n.is_string() => n.to_string(),
        Some(n) => {
            return Err(script_error(format!(
                "write_workbook: a sheet's `name` must be text, not {}",
                describe(n)
            )))
        }
    };
    let rows = match spec.get("rows").and_then(|r| r.read_lock::<Array>()) {
        Some(rows) => rows.clone(),
        None => {
            return Err(script_error(
                "write_workbook: a sheet needs `rows`, a list of maps like #{ NIK: \"...\", Status: \"...\" }",
            ))
        }
    };
    let columns = match spec.get("columns") {
        None => Vec::new(),
        Some(c) => texts(c).ok_or_else(|| {
            script_error(format!(
                "write_workbook: a sheet's `columns` must be a list of column names, not {}",
                describe(c)
            ))
        })?,
    };
    sheet_from_rows(&name, &rows, &columns)
}

/// The header is `columns`, then every other key in the order first seen
/// (within one map, alphabetical: that is how scripts keep maps).
fn sheet_from_rows(name: &str, rows: &[Dynamic], columns: &[String]) -> Res<OutSheet> {
    let mut headers: Vec<String> = Vec::new();
    for c in columns {
        if !headers.contains(c) {
            headers.push(c.clone());
        }
    }
    let mut maps = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let Some(map) = row.read_lock::<Map>() else {
            return Err(script_error(format!(
                "write_workbook: row {} is {}, expected a map like #{{ NIK: \"...\", Status: \"...\" }}",
                i + 1,
                describe(row)
            )));
        };
        for key in map.keys() {
            if !headers.iter().any(|h| h == key.as_str()) {
                headers.push(key.to_string());
            }
        }
        maps.push(map.clone());
    }
    let rows = maps
        .iter()
        .map(|map| OutRow {
            cells: headers
                .iter()
                .map(|h| map.get(h.as_str()).map_or(Cell::Empty, to_cell))
                .collect(),
            tone: None,
        })
        .collect();
    Ok(OutSheet {
        name: name.to_string(),
        headers,
        rows,
        tone_column: None,
    })
}

/// A script value as a cell: numbers, booleans and text as they are, and text
/// of the form scripts see dates in (`31/12/2024`, `31/12/2024 08:30:00`) as a
/// real date.
pub(super) fn to_cell(value: &Dynamic) -> Cell {
    match dynamic_to_cell(value) {
        Cell::Text(t) => parse_display_date(&t).unwrap_or(Cell::Text(t)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use chrono::NaiveDate;
    use tokio::sync::watch;

    use crate::script::{Host, HostContext, ItemInput, ScriptError, Source, TOP_LEVEL_LIMIT};
    use crate::sheet::{self, Cell};

    struct Setup {
        host: Host,
        bot_dir: tempfile::TempDir,
        work_dir: tempfile::TempDir,
        _cancel: watch::Sender<bool>,
        _rt: tokio::runtime::Runtime,
    }

    fn setup(script: &str) -> Setup {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = watch::channel(false);
        let bot_dir = tempfile::tempdir().unwrap();
        let work_dir = tempfile::tempdir().unwrap();
        let ctx = HostContext {
            handle: rt.handle().clone(),
            cancel: rx,
            work_dir: work_dir.path().to_path_buf(),
            bot_dir: bot_dir.path().to_path_buf(),
            vars: BTreeMap::new(),
            secrets: BTreeMap::new(),
            bot: "t".into(),
            top_level_limit: TOP_LEVEL_LIMIT,
            redactor: crate::script::Redactor::default(),
        };
        let source = Source {
            text: script.to_string(),
            shown: "bots/t/main.rhai".into(),
        };
        Setup {
            host: Host::new(&source, ctx).unwrap(),
            bot_dir,
            work_dir,
            _cancel: tx,
            _rt: rt,
        }
    }

    fn item() -> ItemInput {
        ItemInput {
            index: 0,
            row: 2,
            fields: vec![("NIK".into(), Cell::Text("3201010101010001".into()))],
        }
    }

    fn text(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    fn output(s: &mut Setup) -> Result<Vec<(String, Cell)>, ScriptError> {
        s.host
            .process(item(), Duration::from_secs(10))
            .map(|r| r.outputs)
    }

    /// A lookup workbook in the bot folder: a title row, then the table.
    fn lookup(dir: &std::path::Path) {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet().set_name("Kecamatan").unwrap();
        ws.merge_range(
            0,
            0,
            0,
            3,
            "DAFTAR KECAMATAN",
            &rust_xlsxwriter::Format::new(),
        )
        .unwrap();
        for (c, h) in ["Kode", "Nama Kecamatan", "Aktif", "Sejak"]
            .iter()
            .enumerate()
        {
            ws.write_string(2, c as u16, *h).unwrap();
        }
        let date = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
        for (r, (kode, nama, aktif, tahun)) in [
            ("320101", "Cibinong", true, 2001u16),
            ("320102", "Gunung Putri", false, 2002),
        ]
        .iter()
        .enumerate()
        {
            let r = r as u32 + 3;
            ws.write_string(r, 0, *kode).unwrap();
            ws.write_string(r, 1, *nama).unwrap();
            ws.write_boolean(r, 2, *aktif).unwrap();
            let d = rust_xlsxwriter::ExcelDateTime::from_ymd(*tahun, 1, 31).unwrap();
            ws.write_datetime_with_format(r, 3, &d, &date).unwrap();
        }
        std::fs::create_dir_all(dir.join("data")).unwrap();
        wb.save(dir.join("data/kecamatan.xlsx")).unwrap();
    }

    #[test]
    fn read_workbook_gives_maps_keyed_by_header() {
        let mut s = setup(
            r#"
            fn process(item) {
                let rows = read_workbook("data/kecamatan.xlsx");
                item.output("n", rows.len());
                item.output("kode", rows[0]["Kode"]);
                item.output("nama", rows[1]["Nama Kecamatan"]);
                item.output("aktif", rows[0]["Aktif"]);
                item.output("sejak", rows[0]["Sejak"]);
                let aktif = read_workbook("data/kecamatan.xlsx", #{
                    sheet: 1, header_row: 3, filter: #{ Aktif: true },
                    rename: #{ "Nama Kecamatan": "Nama" }, required: ["Kode", "Nama"],
                });
                item.output("aktif_n", aktif.len());
                item.output("aktif_nama", aktif[0]["Nama"]);
            }
            "#,
        );
        lookup(s.bot_dir.path());
        let out = output(&mut s).unwrap();
        let get = |k: &str| out.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("n"), Cell::Int(2));
        assert_eq!(get("kode"), text("320101"));
        assert_eq!(get("nama"), text("Gunung Putri"));
        assert_eq!(get("aktif"), Cell::Bool(true));
        assert_eq!(
            get("sejak"),
            Cell::Date(NaiveDate::from_ymd_opt(2001, 1, 31).unwrap())
        );
        assert_eq!(get("aktif_n"), Cell::Int(1));
        assert_eq!(get("aktif_nama"), text("Cibinong"));
    }

    #[test]
    fn read_workbook_errors_are_clear() {
        let cases = [
            (
                r#"read_workbook("../rahasia.xlsx")"#,
                "path_outside",
                "must be a relative path inside the bot folder",
            ),
            (
                r#"read_workbook("/etc/passwd")"#,
                "path_outside",
                "no leading \"/\"",
            ),
            (
                r#"read_workbook("tidak-ada.xlsx")"#,
                "path",
                "\"tidak-ada.xlsx\" does not exist in the bot folder or the run's folder",
            ),
            (
                r#"read_workbook("data/kecamatan.xlsx", #{ sheet: "Desa" })"#,
                "workbook",
                "has no sheet \"Desa\"; its sheets are: \"Kecamatan\"",
            ),
            (
                r#"read_workbook("data/kecamatan.xlsx", #{ required: ["Kode Pos"] })"#,
                "workbook",
                "lacks the required column \"Kode Pos\"; its columns are \"Kode\", \"Nama Kecamatan\", \"Aktif\", \"Sejak\"",
            ),
            (
                r#"read_workbook("data/kecamatan.xlsx", #{ shet: 1 })"#,
                "script",
                "unknown read_workbook option `shet`; the options are: sheet, header_row",
            ),
            (
                r#"read_workbook("data/kecamatan.xlsx", #{ header_row: 0 })"#,
                "script",
                "read_workbook option `header_row` must be the header's row number",
            ),
        ];
        for (call, kind, message) in cases {
            let mut s = setup(&format!("fn process(item) {{ {call}; }}"));
            lookup(s.bot_dir.path());
            let err = output(&mut s).unwrap_err();
            assert_eq!(err.kind(), kind, "{call}: {err:?}");
            assert!(err.message().contains(message), "{call}: {}", err.message());
        }
    }

    #[cfg(unix)]
    #[test]
    fn links_out_of_the_folders_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        lookup(outside.path());
        let mut s = setup(r#"fn process(item) { read_workbook("luar/data/kecamatan.xlsx"); }"#);
        std::os::unix::fs::symlink(outside.path(), s.bot_dir.path().join("luar")).unwrap();
        let err = output(&mut s).unwrap_err();
        assert_eq!(err.kind(), "path_outside", "{err:?}");

        for target in ["luar/x.xlsx", "luar/baru/x.xlsx"] {
            let mut s = setup(&format!(
                "fn process(item) {{ write_workbook(\"{target}\", [#{{ a: 1 }}]); }}"
            ));
            std::os::unix::fs::symlink(outside.path(), s.work_dir.path().join("luar")).unwrap();
            let err = output(&mut s).unwrap_err();
            assert_eq!(err.kind(), "path_outside", "{target}: {err:?}");
            assert!(!outside.path().join("x.xlsx").exists());
            assert!(
                !outside.path().join("baru").exists(),
                "no folder made outside"
            );
        }
    }

    #[test]
    fn write_workbook_writes_sheets_into_the_run_folder() {
        let mut s = setup(
            r#"
            fn process(item) {
                let rows = [
                    #{ NIK: item["NIK"], Jumlah: 3, Nilai: 2.5, Lunas: true, Tanggal: "05/03/2026", Catatan: () },
                    #{ NIK: "199001012022011001", Jumlah: 4, Tanggal: "bukan tanggal" },
                ];
                let one = write_workbook("rekap/satu.xlsx", rows);
                let two = write_workbook("dua.xlsx", [
                    #{ name: "Rekap", rows: rows, columns: ["Tanggal", "NIK"] },
                    #{ name: "Kosong", rows: [] },
                ]);
                let three = write_workbook("tiga.xlsx", #{ name: "Saja", rows: [#{ a: 1 }] });
                item.output("paths", `${one} ${two} ${three}`);
            }
            "#,
        );
        let out = output(&mut s).unwrap();
        assert_eq!(out[0].1, text("rekap/satu.xlsx dua.xlsx tiga.xlsx"));

        let work = s.work_dir.path();
        let t = sheet::read(&work.join("rekap/satu.xlsx"), None).unwrap();
        assert_eq!(t.sheet, "Sheet1");
        assert_eq!(
            t.headers,
            ["Catatan", "Jumlah", "Lunas", "NIK", "Nilai", "Tanggal"]
        );
        let date = Cell::Date(NaiveDate::from_ymd_opt(2026, 3, 5).unwrap());
        assert_eq!(
            t.rows[0].cells,
            [
                Cell::Empty,
                Cell::Int(3),
                Cell::Bool(true),
                text("3201010101010001"),
                Cell::Float(2.5),
                date.clone()
            ]
        );
        assert_eq!(
            t.rows[1].cells,
            [
                Cell::Empty,
                Cell::Int(4),
                Cell::Empty,
                text("199001012022011001"),
                Cell::Empty,
                text("bukan tanggal")
            ]
        );

        let t = sheet::read(&work.join("dua.xlsx"), Some("Rekap")).unwrap();
        assert_eq!(&t.headers[..2], ["Tanggal", "NIK"]);
        assert_eq!(t.rows[0].cells[0], date);
        let t = sheet::read(&work.join("dua.xlsx"), Some("Kosong"));
        assert!(matches!(t, Err(sheet::SheetError::Empty { .. })), "{t:?}");
        let t = sheet::read(&work.join("tiga.xlsx"), Some("Saja")).unwrap();
        assert_eq!(t.rows[0].cells, [Cell::Int(1)]);

        let mut names: Vec<String> = std::fs::read_dir(work)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["dua.xlsx", "rekap", "tiga.xlsx"], "no temp files");
    }

    #[test]
    fn write_workbook_errors_are_clear() {
        let cases = [
            (
                r#"write_workbook("x.csv", [])"#,
                "workbook",
                "must end in .xlsx",
            ),
            (
                r#"write_workbook("../x.xlsx", [])"#,
                "path_outside",
                "no \"..\"",
            ),
            (
                r#"write_workbook("output.xlsx", [])"#,
                "workbook",
                "is the name of a workbook juru writes at the end of the run",
            ),
            (
                r#"write_workbook("x.xlsx", [1, 2])"#,
                "script",
                "row 1 is i64 1, expected a map",
            ),
            (
                r#"write_workbook("x.xlsx", #{ name: "A", rows: [], warna: "merah" })"#,
                "script",
                "unknown write_workbook sheet key `warna`; the keys are: name, rows, columns",
            ),
        ];
        for (call, kind, message) in cases {
            let mut s = setup(&format!("fn process(item) {{ {call}; }}"));
            let err = output(&mut s).unwrap_err();
            assert_eq!(err.kind(), kind, "{call}: {err:?}");
            assert!(err.message().contains(message), "{call}: {}", err.message());
        }
    }

    #[test]
    fn a_workbook_written_can_be_read_back_by_the_script() {
        let mut s = setup(
            r#"
            fn process(item) {
                write_workbook("antara.xlsx", [#{ NIK: item["NIK"], Tanggal: "31/12/2024" }]);
                let back = read_workbook("antara.xlsx");
                item.output("nik", back[0]["NIK"]);
                item.output("tanggal", back[0]["Tanggal"]);
            }
            "#,
        );
        let out = output(&mut s).unwrap();
        assert_eq!(out[0].1, text("3201010101010001"));
        assert_eq!(
            out[1].1,
            Cell::Date(NaiveDate::from_ymd_opt(2024, 12, 31).unwrap())
        );
    }
}
