//! Host tests without a browser: items, outputs, failures, limits, the reference.

use super::*;
use crate::sheet::Cell;

fn host(script: &str) -> (Host, watch::Sender<bool>, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = watch::channel(false);
    let source = Source {
        text: script.to_string(),
        shown: "bots/t/main.rhai".into(),
    };
    let ctx = HostContext {
        handle: rt.handle().clone(),
        cancel: rx,
        work_dir: std::env::temp_dir(),
        bot_dir: std::env::temp_dir(),
        vars: BTreeMap::from([(
            "portal_url".to_string(),
            toml::Value::String("http://x".into()),
        )]),
        secrets: BTreeMap::from([("pw".to_string(), "rahasia".to_string())]),
        bot: "t".into(),
        top_level_limit: TOP_LEVEL_LIMIT,
        redactor: Redactor::default(),
    };
    (Host::new(&source, ctx).unwrap(), tx, rt)
}

fn item() -> ItemInput {
    ItemInput {
        index: 0,
        row: 2,
        fields: vec![
            ("NIK".into(), Cell::Text("3201010101010001".into())),
            ("Jumlah".into(), Cell::Int(3)),
            (
                "Tanggal".into(),
                Cell::Date(chrono::NaiveDate::from_ymd_opt(2026, 3, 5).unwrap()),
            ),
            ("Kosong".into(), Cell::Empty),
        ],
    }
}

const LIMIT: Duration = Duration::from_secs(5);

#[test]
fn process_reads_fields_and_sets_outputs() {
    let (mut h, _tx, _rt) = host(
        r#"
        fn process(item) {
            item.output("NIK lagi", item["nik "]);
            item.output("Dua kali", item["Jumlah"] * 2);
            item.output("Tanggal", item["Tanggal"]);
            item.output("Kosong?", item["Kosong"] == "");
            item.output("Portal", vars.portal_url);
            item.output("Baris", item.row);
            item.output("Rahasia", secret("pw").len());
        }
        "#,
    );
    let r = h.process(item(), LIMIT).unwrap();
    let get = |k: &str| {
        r.outputs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, c)| c.clone())
    };
    assert_eq!(get("NIK lagi"), Some(Cell::Text("3201010101010001".into())));
    assert_eq!(get("Dua kali"), Some(Cell::Int(6)));
    assert_eq!(
        get("Tanggal"),
        Some(Cell::Date(
            chrono::NaiveDate::from_ymd_opt(2026, 3, 5).unwrap()
        )),
        "a date read from the input goes back out as a date"
    );
    assert_eq!(get("Kosong?"), Some(Cell::Bool(true)));
    assert_eq!(get("Portal"), Some(Cell::Text("http://x".into())));
    assert_eq!(get("Baris"), Some(Cell::Int(2)));
    assert_eq!(get("Rahasia"), Some(Cell::Int(7)));
}

#[test]
fn fail_business_inside_a_helper_function_is_business() {
    let (mut h, _tx, _rt) = host(
        r#"
        fn check(nik) { if nik.len() != 16 { fail_business(`NIK ${nik} tidak valid`); } }
        fn process(item) { check("123"); item.output("x", 1); }
        "#,
    );
    let err = h.process(item(), LIMIT).unwrap_err();
    assert_eq!(
        err,
        ScriptError::Business {
            message: "NIK 123 tidak valid".into()
        }
    );
}

#[test]
fn unknown_column_is_a_system_error_listing_columns() {
    let (mut h, _tx, _rt) = host(r#"fn process(item) { item["Nama"] }"#);
    let err = h.process(item(), LIMIT).unwrap_err();
    assert_eq!(err.kind(), "script");
    assert!(
        err.message().contains("no column \"Nama\""),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("\"NIK\", \"Jumlah\""),
        "{}",
        err.message()
    );
}

#[test]
fn script_bug_names_file_and_line() {
    let (mut h, _tx, _rt) = host("fn process(item) {\n  let x = 1;\n  x.no_such_method();\n}\n");
    let err = h.process(item(), LIMIT).unwrap_err();
    assert!(
        err.message().starts_with("bots/t/main.rhai:3"),
        "{}",
        err.message()
    );
}

#[test]
fn endless_loop_times_out() {
    let (mut h, _tx, _rt) = host("fn process(item) { loop { } }");
    let err = h.process(item(), Duration::from_millis(200)).unwrap_err();
    assert_eq!(
        err,
        ScriptError::TimedOut {
            after: Duration::from_millis(200)
        }
    );
}

#[test]
fn cancel_stops_a_running_script() {
    let (mut h, tx, _rt) = host("fn process(item) { loop { } }");
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let _ = tx.send(true);
    });
    assert_eq!(
        h.process(item(), LIMIT).unwrap_err(),
        ScriptError::Cancelled
    );
}

#[test]
fn browser_call_without_browser_is_a_system_error() {
    let (mut h, _tx, _rt) = host(r#"fn process(item) { browser.open("http://x"); }"#);
    let err = h.process(item(), LIMIT).unwrap_err();
    assert_eq!(err.kind(), "no_browser");
}

#[test]
fn sandbox_has_no_eval() {
    let err = compile_text("fn process(item) { eval(\"1\") }", "m.rhai").unwrap_err();
    assert!(err.location.starts_with("m.rhai:1:"), "{err}");
}

#[test]
fn syntax_error_has_line_and_column() {
    let err = compile_text("fn process(item) {\n  let = 3;\n}\n", "bots/x/main.rhai").unwrap_err();
    assert_eq!(err.location, "bots/x/main.rhai:2:7");
}

/// Every function a script can call is documented in docs/bot-reference.md.
#[test]
fn bot_reference_names_every_function() {
    let (h, _tx, _rt) = host("fn process(item) {}");
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/bot-reference.md"
    ))
    .expect("docs/bot-reference.md exists");
    let mut missing = Vec::new();
    for sig in h.engine().gen_fn_signatures(false) {
        let name = sig.split('(').next().unwrap_or_default().trim();
        let name = name.strip_prefix("get$").unwrap_or(name);
        if name.starts_with("index$") || name == "to_string" {
            continue;
        }
        if !doc.contains(&format!("`{name}"))
            && !doc.contains(&format!(".{name}("))
            && !doc.contains(&format!(".{name}`"))
        {
            missing.push(sig);
        }
    }
    assert!(
        missing.is_empty(),
        "not in docs/bot-reference.md: {missing:#?}"
    );
}

#[test]
fn global_constants_reach_functions() {
    let (mut h, _tx, _rt) = host(
        "const PORTAL = \"http://portal\";\nfn process(item) { item.output(\"p\", PORTAL); }\n",
    );
    let r = h.process(item(), LIMIT).unwrap();
    assert_eq!(r.outputs[0].1, Cell::Text("http://portal".into()));
}

#[test]
fn endless_top_level_is_stopped() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_tx, rx) = watch::channel(false);
    let source = Source {
        text: "let n = 0; loop { n += 1; }\nfn process(item) {}".into(),
        shown: "m.rhai".into(),
    };
    let ctx = HostContext {
        handle: rt.handle().clone(),
        cancel: rx,
        work_dir: std::env::temp_dir(),
        bot_dir: std::env::temp_dir(),
        vars: BTreeMap::new(),
        secrets: BTreeMap::new(),
        bot: "t".into(),
        top_level_limit: Duration::from_millis(200),
        redactor: Redactor::default(),
    };
    let err = Host::new(&source, ctx).err().expect("stopped");
    assert_eq!(
        err,
        ScriptError::System {
            message: "m.rhai:1: the script's top level (the statements outside any function) ran longer than its 200 ms limit; is there an endless loop? Work for each item belongs in process(item), setup in init()".into(),
            kind: "script".into(),
        }
    );
}

/// Sessions that cannot open a browser (the driver is missing), and what they were told.
struct NoBrowser {
    opened: Rc<RefCell<u32>>,
    failures: Rc<RefCell<Vec<String>>>,
}

impl Sessions for NoBrowser {
    fn open(&mut self) -> Result<Browser, ScriptError> {
        *self.opened.borrow_mut() += 1;
        Err(ScriptError::System {
            message: "chromedriver was not found at \"/nonexistent/chromedriver\"".into(),
            kind: "browser_start".into(),
        })
    }
    fn stop_requested(&self) -> bool {
        false
    }
    fn failed(&mut self, reason: String) {
        self.failures.borrow_mut().push(reason);
    }
}

fn without_browser(h: &Host) -> (Rc<RefCell<u32>>, Rc<RefCell<Vec<String>>>) {
    let opened = Rc::new(RefCell::new(0));
    let failures = Rc::new(RefCell::new(Vec::new()));
    h.set_sessions(Box::new(NoBrowser {
        opened: opened.clone(),
        failures: failures.clone(),
    }));
    (opened, failures)
}

#[test]
fn a_script_without_browser_use_never_asks_for_one() {
    let (mut h, _tx, _rt) = host(
        r#"
        fn login() { throw "login must not run"; }
        fn init() { log("init"); }
        fn process(item) { item.output("NIK", item["NIK"]); }
        "#,
    );
    let (opened, failures) = without_browser(&h);
    assert!(h.call_optional("init", LIMIT).unwrap());
    for _ in 0..3 {
        h.process(item(), LIMIT).unwrap();
    }
    assert_eq!(*opened.borrow(), 0);
    assert!(failures.borrow().is_empty());
}

#[test]
fn a_browser_that_cannot_open_stops_the_run_once() {
    let (mut h, _tx, _rt) = host(
        r#"
        fn login() { throw "login must not run"; }
        fn process(item) {
            log("before the browser");
            try { browser.open("http://x/"); } catch (e) { item.output("caught", e); }
            item.output("after", true);
        }
        "#,
    );
    let (opened, failures) = without_browser(&h);
    // Cancelled (the item goes back), not caught by the script's try/catch.
    assert_eq!(
        h.process(item(), LIMIT).unwrap_err(),
        ScriptError::Cancelled
    );
    assert!(h.last_outputs().is_empty(), "{:?}", h.last_outputs());
    assert_eq!(
        *failures.borrow(),
        vec!["chromedriver was not found at \"/nonexistent/chromedriver\"".to_string()]
    );
    // The next use does not try again.
    assert_eq!(
        h.process(item(), LIMIT).unwrap_err(),
        ScriptError::Cancelled
    );
    assert_eq!(h.open_browser(LIMIT).unwrap_err(), ScriptError::Cancelled);
    assert_eq!(*opened.borrow(), 1);
    assert_eq!(failures.borrow().len(), 1);
}

#[test]
fn an_aborted_run_opens_no_browser() {
    let (mut h, tx, _rt) = host(r#"fn verify(item) { browser.url() != "" }"#);
    let (opened, failures) = without_browser(&h);
    tx.send(true).unwrap();
    assert_eq!(h.open_browser(LIMIT).unwrap_err(), ScriptError::Cancelled);
    assert_eq!(*opened.borrow(), 0);
    assert!(failures.borrow().is_empty());
}

// ---- the sandbox's limits ----------------------------------------------------------

fn system_error(h: &mut Host) -> (String, String) {
    match h.process(item(), Duration::from_secs(60)).unwrap_err() {
        ScriptError::System { message, kind } => (kind, message),
        other => panic!("expected a system exception, got {other:?}"),
    }
}

#[test]
fn a_string_doubled_in_a_loop_stops_at_the_limit() {
    let (mut h, _tx, _rt) =
        host("fn process(item) {\n  let s = \"juru\";\n  loop { s += s; }\n}\n");
    let (kind, message) = system_error(&mut h);
    assert_eq!(kind, "limit");
    assert!(
        message.starts_with("bots/t/main.rhai")
            && message.contains(": the script went past a limit: a string"),
        "{message}"
    );
    assert!(message.contains("1 MiB (1048576 bytes)"), "{message}");
}

#[test]
fn text_gathered_in_arrays_and_maps_counts_against_the_limit() {
    for script in [
        // 2 000 strings of 1 000 bytes: each small, 2 MB together.
        "fn process(item) { let a = []; let s = \"x\"; s.pad(1000, 'x'); for i in 0..2000 { a.push(s); } }",
        // (A map set key by key is checked when it is used.)
        "fn process(item) { let m = #{}; let s = \"x\"; s.pad(1000, 'x'); for i in 0..2000 { m[`k${i}`] = s; } m.len(); }",
    ] {
        let (mut h, _tx, _rt) = host(script);
        let (kind, message) = system_error(&mut h);
        assert_eq!(kind, "limit", "{script}");
        assert!(message.contains("a string, or the text held in one array or map"), "{message}");
    }
    let (mut h, _tx, _rt) =
        host("fn process(item) { let a = []; for i in 0..200000 { a.push(i); } }");
    let (kind, message) = system_error(&mut h);
    assert_eq!(kind, "limit");
    assert!(
        message.contains("an array of more than 100000 values"),
        "{message}"
    );
    let (mut h, _tx, _rt) =
        host("fn process(item) { let m = #{}; for i in 0..200000 { m[`${i}`] = i; } m.len(); }");
    let (kind, message) = system_error(&mut h);
    assert_eq!(kind, "limit");
    assert!(
        message.contains("a map of more than 100000 entries"),
        "{message}"
    );
}

#[test]
fn deep_recursion_holding_big_strings_stops_at_the_call_depth() {
    let (mut h, _tx, _rt) = host(
        r#"
        fn dig(s, n) { let t = s + "!"; dig(t, n + 1) }
        fn process(item) { let s = "x"; s.pad(900000, 'x'); dig(s, 0); }
        "#,
    );
    let (kind, message) = system_error(&mut h);
    assert_eq!(kind, "limit");
    assert!(
        message.contains("function calls nested more than 32 levels deep"),
        "{message}"
    );
}

#[test]
fn the_limits_leave_room_for_ordinary_work() {
    let (mut h, _tx, _rt) = host(
        r#"
        fn process(item) {
            let rows = [];
            for i in 0..5000 { rows.push(#{ NIK: `3201${i}`, Nama: "Siti Aminah", No: i }); }
            let s = "x"; s.pad(500000, 'x');
            item.output("Baris", rows.len());
            item.output("Panjang", s.len());
        }
        "#,
    );
    let r = h.process(item(), Duration::from_secs(60)).unwrap();
    assert_eq!(r.outputs[0], ("Baris".to_string(), Cell::Int(5000)));
    assert_eq!(r.outputs[1], ("Panjang".to_string(), Cell::Int(500000)));
}

#[test]
fn outputs_and_logs_of_an_item_are_bounded() {
    let (mut h, _tx, _rt) = host(
        r#"fn process(item) { let s = "x"; s.pad(100000, 'x'); for i in 0..20 { item.output(`k${i}`, s); } }"#,
    );
    let (kind, message) = system_error(&mut h);
    assert_eq!(kind, "limit");
    assert!(
        message.starts_with("item.output(\"k10\"): the script went past a limit"),
        "{message}"
    );
    let (mut h, _tx, _rt) = host(
        r#"fn process(item) { let s = "y"; s.pad(10000, 'y'); for i in 0..1000 { log(`${i} ${s}`); } }"#,
    );
    let r = h.process(item(), Duration::from_secs(60)).unwrap();
    assert_eq!(r.log.len(), MAX_ITEM_LOG_LINES);
    assert!(r.log[0].starts_with("800 yyy"), "the last lines are kept");
    assert!(
        r.log[0].ends_with("… (cut: 10004 bytes in all)"),
        "{}",
        &r.log[0][4000..]
    );
    assert!(r.log[0].chars().count() < MAX_LOG_LINE + 40);
}

#[test]
fn imports_do_not_compile_and_cannot_load() {
    let err = compile_text(
        "import \"/tmp/evil\" as evil;\nfn process(item) {}",
        "bots/x/main.rhai",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("bots/x/main.rhai:1:1: imports are not allowed; put the code in main.rhai"),
        "{err}"
    );
    let err = compile_text("fn process(item) { import \"x\"; }", "m.rhai")
        .unwrap_err()
        .to_string();
    assert!(err.contains("imports are not allowed"), "{err}");
}

#[test]
fn what_scripts_log_cannot_forge_lines() {
    let (mut h, _tx, _rt) = host(
        r#"fn process(item) {
            log("a\nERROR juru: fake");
            print("b\r\n\u001b[31mred\u001b[0m\ttab");
            log("c\u2028d \u0085 e");
        }"#,
    );
    let r = h.process(item(), LIMIT).unwrap();
    assert_eq!(
        r.log,
        vec![
            "a\\nERROR juru: fake".to_string(),
            "b\\r\\n\\x1b[31mred\\x1b[0m\\ttab".to_string(),
            "c\\u{2028}d \\x85 e".to_string(),
        ]
    );
    assert!(r.log.iter().all(|l| !l.chars().any(char::is_control)));
}

// ---- redaction ---------------------------------------------------------------------

#[test]
fn secrets_are_hidden_in_their_encoded_forms() {
    let secret = "Kunci Rahasia@\"Dédé\"\\9/🙂".to_string();
    let r = Redactor::new([&secret]);
    for form in [
        secret.clone(),
        // URL: form encoding, encodeURIComponent, a browser's query (only some
        // characters encoded), lower-case hex.
        "Kunci+Rahasia%40%22D%C3%A9d%C3%A9%22%5C9%2F%F0%9F%99%82".to_string(),
        "Kunci%20Rahasia%40%22D%C3%A9d%C3%A9%22%5C9%2F%F0%9F%99%82".to_string(),
        "Kunci%20Rahasia@%22D%C3%A9d%C3%A9%22\\9/%F0%9F%99%82".to_string(),
        "Kunci%20Rahasia%40%22D%c3%a9d%c3%a9%22%5c9%2f%f0%9f%99%82".to_string(),
        // JSON
        "Kunci Rahasia@\\\"Dédé\\\"\\\\9/🙂".to_string(),
        "Kunci Rahasia@\\\"D\\u00e9d\\u00E9\\\"\\\\9\\/\\ud83d\\ude42".to_string(),
        "Kunci Rahasia\\u0040\\u0022D\\u00e9d\\u00e9\\u0022\\u005c9/🙂".to_string(),
        // HTML
        "Kunci Rahasia&#64;&quot;D&#xe9;d&#233;&quot;\\9/&#x1F642;".to_string(),
    ] {
        let text = format!("sebelum [{form}] sesudah");
        assert_eq!(
            r.redact(&text),
            "sebelum [••••••] sesudah",
            "not hidden: {form}"
        );
    }
    // Near misses stay as they are.
    for other in [
        "Kunci Rahasia@\"Dede\"\\9/🙂",
        "Kunci%2BRahasia",
        "Kunci Rahasia%4",
        "Kunci Rahasia&#64",
    ] {
        assert_eq!(r.redact(other), other);
    }
    let r = Redactor::new([&"abc%25".to_string(), &"a\\b".to_string()]);
    assert_eq!(
        r.redact("x abc%2525 y a\\\\b z a%5Cb"),
        "x •••••• y •••••• z ••••••"
    );
    assert_eq!(r.redact("x abc%25 y"), "x •••••• y");
}
#[test]
fn a_map_grown_key_by_key_stops_at_the_memory_limit() {
    // Rhai checks a map set one key at a time only when it is passed on: the memory
    // count of the call stops it.
    let (mut h, _tx, _rt) = host(
        r#"fn process(item) {
            let m = #{};
            let s = "x"; s.pad(200000, 'x');
            let i = 0;
            loop { m[`k${i}`] = s + i; i += 1; }
        }"#,
    );
    let before = memory::live_bytes();
    let (kind, message) = system_error(&mut h);
    assert_eq!(kind, "limit");
    assert!(
        message.contains("it held more than 128 MiB of memory in one call"),
        "{message}"
    );
    let after = memory::live_bytes() - before;
    assert!(after < 16 << 20, "what the call held is freed: {after}");
}

#[test]
fn common_slips_get_plain_messages() {
    let message = |src: &str| {
        crate::script::compile_text(src, "main.rhai")
            .err()
            .map(|p| p.to_string())
            .unwrap_or_default()
    };
    let m = message("fn process(item) { log(\"NIK \" + ${item[\"NIK\"]}); }");
    assert!(
        m.starts_with("main.rhai:1:33:") && m.contains("back-ticks"),
        "{m}"
    );
    let m = message("fn process(item) { log('NIK ${x}'); }");
    assert!(
        m.contains("single quotes") && m.contains("double quotes"),
        "{m}"
    );
    let m = message("fn process(item) { if true { log(\"a\"); }");
    assert!(m.contains("never closed"), "{m}");
}
