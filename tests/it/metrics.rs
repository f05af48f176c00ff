//! `GET /metrics` of a real `juru agent`: the Prometheus text is parsed by a small
//! parser that checks the format's rules (HELP and TYPE before a family's samples,
//! one family in one block, unique series, cumulative histograms), and its numbers
//! are compared with the store as read here with plain SQL. A run the agent starts
//! holds a browser on a page this test answers only when it wants, so the browser
//! and the run are seen in use; the counters move with each run.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};

use juru::store::fires::fire_state;
use juru::store::{NewItem, NewRun, Store};

use crate::agent::{wait_for, Agent};
use crate::support::{lab_bot, run_lab, PortalHandle, Project};
use crate::web::{http, WebServer};

/// One sample: the metric name, its labels, its value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape, parsed and checked against the exposition format's rules.
#[derive(Debug)]
struct Scrape {
    samples: Vec<Sample>,
    /// Family name -> type.
    types: BTreeMap<String, String>,
    text: String,
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `name{a="x",b="y"} value`: the name, the labels (escapes undone), the value.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or_else(|| format!("no value: {line:?}"))?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let mut end = None;
        loop {
            // A label name up to '=', or the closing brace.
            let mut key = String::new();
            for (i, c) in chars.by_ref() {
                match c {
                    '}' if key.is_empty() => {
                        end = Some(i);
                        break;
                    }
                    '=' => break,
                    c => key.push(c),
                }
            }
            if end.is_some() {
                break;
            }
            if !valid_name(&key) || key.starts_with("__") {
                return Err(format!("bad label name {key:?} in {line:?}"));
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("label {key} without a quoted value in {line:?}"));
            }
            let mut value = String::new();
            loop {
                match chars.next().map(|(_, c)| c) {
                    Some('\\') => match chars.next().map(|(_, c)| c) {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => return Err(format!("bad escape {other:?} in {line:?}")),
                    },
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("unterminated label value in {line:?}")),
                }
            }
            if labels.insert(key.clone(), value).is_some() {
                return Err(format!("label {key} twice in {line:?}"));
            }
            match chars.next() {
                Some((_, ',')) => {}
                Some((i, '}')) => {
                    end = Some(i);
                    break;
                }
                other => return Err(format!("unexpected {other:?} after a label in {line:?}")),
            }
        }
        let end = end.ok_or_else(|| format!("no closing brace in {line:?}"))?;
        rest = &inner[end + 1..];
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or_else(|| format!("no space before the value in {line:?}"))?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse::<f64>()
            .map_err(|_| format!("value {v:?} is not a number in {line:?}"))?,
    };
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// The family a sample belongs to, given the declared types.
fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if types.get(base).is_some_and(|t| t == "histogram") {
                return base;
            }
        }
    }
    name
}

fn parse(text: &str) -> Result<Scrape, String> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps: HashSet<String> = HashSet::new();
    let mut sampled: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut series: HashSet<String> = HashSet::new();
    let mut samples = Vec::new();
    if !text.ends_with('\n') {
        return Err("the text does not end with a line break".into());
    }
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            let kind = words.next().unwrap_or("");
            let name = words.next().unwrap_or("").to_string();
            let rest = words.next().unwrap_or("");
            match kind {
                "HELP" | "TYPE" => {
                    if !valid_name(&name) {
                        return Err(format!("bad name in {line:?}"));
                    }
                    if sampled.contains(&name) {
                        return Err(format!("{kind} of {name} after its samples"));
                    }
                    if kind == "HELP" {
                        if !helps.insert(name.clone()) {
                            return Err(format!("HELP of {name} twice"));
                        }
                    } else {
                        if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&rest)
                        {
                            return Err(format!("unknown type in {line:?}"));
                        }
                        if types.insert(name.clone(), rest.to_string()).is_some() {
                            return Err(format!("TYPE of {name} twice"));
                        }
                    }
                    current = Some(name);
                }
                _ => {}
            }
            continue;
        }
        let s = parse_sample(line)?;
        let family = family_of(&s.name, &types).to_string();
        if current.as_deref() != Some(family.as_str()) {
            return Err(format!(
                "sample {line:?} is not in the block of its family {family} (HELP and TYPE first, samples together)"
            ));
        }
        if !types.contains_key(&family) || !helps.contains(&family) {
            return Err(format!("{family} has samples before its HELP and TYPE"));
        }
        if types[&family] == "counter" && !family.ends_with("_total") {
            return Err(format!("counter {family} does not end in _total"));
        }
        sampled.insert(family);
        let key = format!("{}{:?}", s.name, s.labels);
        if !series.insert(key.clone()) {
            return Err(format!("series {key} twice"));
        }
        samples.push(s);
    }
    let scrape = Scrape {
        samples,
        types,
        text: text.to_string(),
    };
    scrape.check_histograms()?;
    Ok(scrape)
}

impl Scrape {
    /// Every histogram: per series, buckets cumulative and rising with `le`, the
    /// `+Inf` bucket equal to `_count`, a `_sum`.
    fn check_histograms(&self) -> Result<(), String> {
        for (family, kind) in &self.types {
            if kind != "histogram" {
                continue;
            }
            let mut buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
            for s in self
                .samples
                .iter()
                .filter(|s| s.name == format!("{family}_bucket"))
            {
                let mut labels = s.labels.clone();
                let le = labels
                    .remove("le")
                    .ok_or_else(|| format!("{family} bucket without le"))?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().map_err(|_| format!("bad le {le:?}"))?
                };
                buckets
                    .entry(format!("{labels:?}"))
                    .or_default()
                    .push((le, s.value));
            }
            for (labels, list) in &buckets {
                for pair in list.windows(2) {
                    if pair[1].0 <= pair[0].0 || pair[1].1 < pair[0].1 {
                        return Err(format!(
                            "{family}{labels}: buckets not rising or not cumulative: {list:?}"
                        ));
                    }
                }
                let last = list.last().copied().unwrap_or_default();
                if last.0 != f64::INFINITY {
                    return Err(format!("{family}{labels}: no +Inf bucket"));
                }
                let find = |suffix: &str| {
                    self.samples
                        .iter()
                        .find(|s| {
                            s.name == format!("{family}{suffix}")
                                && format!("{:?}", s.labels) == *labels
                        })
                        .map(|s| s.value)
                };
                let count = find("_count").ok_or_else(|| format!("{family}{labels}: no _count"))?;
                find("_sum").ok_or_else(|| format!("{family}{labels}: no _sum"))?;
                if count != last.1 {
                    return Err(format!(
                        "{family}{labels}: +Inf bucket {} but _count {count}",
                        last.1
                    ));
                }
            }
        }
        Ok(())
    }

    /// The value of the one sample `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        match found.as_slice() {
            [one] => Some(one.value),
            [] => None,
            many => panic!("{name} {labels:?} matches {many:?}"),
        }
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{}", self.text))
    }
}

/// `GET /metrics`, checked: status 200, the format's content type, parsed.
fn scrape(addr: SocketAddr) -> Scrape {
    let r = http(addr, "GET", "/metrics", "", None);
    assert_eq!(r.status, 200, "{}", r.text());
    let ct = r.header("content-type").unwrap_or_default();
    assert!(
        ct.starts_with("text/plain; version=0.0.4"),
        "content type {ct:?}"
    );
    parse(&r.text()).unwrap_or_else(|e| panic!("{e}\n{}", r.text()))
}

/// What the store holds for `bot`, read with plain SQL: items by state, and the
/// ended items with both times (count, seconds in total).
fn store_numbers(p: &Project, bot: &str) -> (BTreeMap<String, f64>, f64, f64) {
    let db = rusqlite::Connection::open(p.path("var/juru.db")).unwrap();
    let mut by_state = BTreeMap::new();
    let mut stmt = db
        .prepare(
            "SELECT i.state, count(*) FROM items i JOIN runs r ON r.id = i.run_id
             WHERE r.bot = ?1 GROUP BY i.state",
        )
        .unwrap();
    for row in stmt
        .query_map([bot], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .unwrap()
    {
        let (state, n) = row.unwrap();
        by_state.insert(state, n as f64);
    }
    let mut stmt = db
        .prepare(
            "SELECT i.started_at, i.finished_at FROM items i JOIN runs r ON r.id = i.run_id
             WHERE r.bot = ?1 AND i.state NOT IN ('pending', 'in_progress')
               AND i.started_at IS NOT NULL AND i.finished_at IS NOT NULL",
        )
        .unwrap();
    let (mut count, mut secs) = (0.0, 0.0);
    for row in stmt
        .query_map([bot], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .unwrap()
    {
        let (a, b) = row.unwrap();
        let a = chrono::DateTime::parse_from_rfc3339(&a).unwrap();
        let b = chrono::DateTime::parse_from_rfc3339(&b).unwrap();
        count += 1.0;
        secs += (b - a).num_milliseconds() as f64 / 1000.0;
    }
    (by_state, count, secs)
}

/// A page server for the test: `/gate` answers only once [`Gate::open`] was called
/// (until then the browser waits for the page, holding its session); everything
/// else is 404 at once.
struct Gate {
    addr: SocketAddr,
    open: Arc<(Mutex<bool>, Condvar)>,
}

impl Gate {
    fn start() -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new((Mutex::new(false), Condvar::new()));
        let shared = open.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let open = shared.clone();
                std::thread::spawn(move || answer(conn, &open));
            }
        });
        Gate { addr, open }
    }

    fn url(&self) -> String {
        format!("http://{}/gate", self.addr)
    }

    fn open(&self) {
        let (lock, cv) = &*self.open;
        *lock.lock().unwrap() = true;
        cv.notify_all();
    }
}

fn answer(conn: TcpStream, open: &(Mutex<bool>, Condvar)) {
    let mut reader = BufReader::new(conn);
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let mut conn = reader.into_inner();
    let reply = if first.starts_with("GET /gate ") {
        let (lock, cv) = open;
        let mut is_open = lock.lock().unwrap();
        while !*is_open {
            is_open = cv.wait(is_open).unwrap();
        }
        let body = "<html><head><title>Pintu</title></head><body><p>buka</p></body></html>";
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
    };
    let _ = conn.write_all(reply.as_bytes());
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_agent_serves_metrics_that_match_the_store() {
    let portal = PortalHandle::start();
    let gate = Gate::start();
    let p = Project::new();
    let port = free_port();
    p.write(
        "config/agent.toml",
        &format!(
            "[browser]\nheadless = true\n[limits]\nmax_browsers = 3\n[web]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\n"
        ),
    );
    p.write(
        "config/schedules.toml",
        "[tahan-pagi]\nbot = \"tahan\"\ncron = \"0 30 7 * * *\"\n",
    );
    // Row 1 is done in a real browser, row 2 is a business exception.
    lab_bot(
        &p,
        r#"fn process(item) {
    if item["No"] == 2 { fail_business("nomor dua ditolak"); }
    browser.open(`${vars.portal_url}/lab`);
    item.output("Judul", browser.title());
}"#,
        "",
        2,
    );
    // One row held on the gate page until the test opens it.
    p.write(
        "bots/tahan/bot.toml",
        &format!(
            "name = \"tahan\"\n[input]\nworkbook = \"masuk.xlsx\"\n[browser]\npage_load_timeout = \"170s\"\n[vars]\ngate = \"{}\"\n",
            gate.url()
        ),
    );
    p.write(
        "bots/tahan/main.rhai",
        "fn process(item) {\n    browser.open(vars.gate);\n    item.output(\"Jawaban\", browser.text(\"p\"));\n}\n",
    );
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "No").unwrap();
    ws.write_number(1, 0, 1.0).unwrap();
    wb.save(p.path("bots/tahan/masuk.xlsx")).unwrap();

    // A fire of another agent's schedule whose run started 5 minutes late.
    {
        let mut store = Store::open(p.path("var/juru.db")).unwrap();
        let due = "2026-11-27T00:00:00+00:00";
        store
            .claim_fire("malam", due, fire_state::QUEUED, None)
            .unwrap();
        store
            .begin_run(
                &NewRun {
                    id: "20261127-000500-jadwal",
                    bot: "jadwal",
                    trigger: "schedule:malam",
                    input: "x.xlsx",
                    dir: "var/runs/20261127-000500-jadwal",
                    started_at: "2026-11-27T00:05:00+00:00",
                    headers: "[]",
                    vars: "{}",
                    fire: Some(("malam", due)),
                    ..NewRun::default()
                },
                &[NewItem {
                    row: 2,
                    data: "[]".into(),
                    submitted: false,
                }],
            )
            .unwrap();
        store
            .finish_run(
                "20261127-000500-jadwal",
                "failed",
                Some("stopped"),
                "2026-11-27T00:06:00+00:00",
            )
            .unwrap();
    }

    let agent = Agent::start(&p, 1);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for("the agent's web port", 60, &agent, || {
        TcpStream::connect(addr).ok()
    });

    let first = scrape(addr);
    assert_eq!(first.get("juru_up", &[]), 1.0);
    assert_eq!(first.get("juru_store_up", &[]), 1.0);
    assert_eq!(first.get("juru_browsers_in_use", &[]), 0.0);
    assert_eq!(first.get("juru_browsers_max", &[]), 3.0);
    assert_eq!(
        first.get("juru_build_info", &[("version", env!("CARGO_PKG_VERSION"))]),
        1.0
    );
    assert!(first
        .samples
        .iter()
        .filter(|s| s.name == "juru_up")
        .all(|s| s.labels.get("agent").is_some_and(|a| !a.is_empty())));
    assert_eq!(first.value("juru_runs_running", &[("bot", "lab")]), None);
    assert_eq!(
        first.get("juru_runs_total", &[("bot", "jadwal"), ("state", "failed")]),
        1.0
    );
    assert_eq!(
        first.get("juru_fires_late_total", &[("schedule", "malam")]),
        1.0
    );
    let late = |le: &str| {
        first.get(
            "juru_fire_lateness_seconds_bucket",
            &[("schedule", "malam"), ("le", le)],
        )
    };
    assert_eq!((late("120"), late("300"), late("+Inf")), (0.0, 1.0, 1.0));
    assert_eq!(
        first.get("juru_fire_lateness_seconds_sum", &[("schedule", "malam")]),
        300.0
    );
    assert_eq!(first.get("juru_outbox_depth", &[("state", "pending")]), 0.0);

    // A run of `lab` from the command line, beside the agent.
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let second = scrape(addr);
    let (by_state, count, secs) = store_numbers(&p, "lab");
    assert_eq!(by_state.get("done"), Some(&1.0), "{by_state:?}");
    assert_eq!(by_state.get("business_exception"), Some(&1.0));
    for outcome in [
        "done",
        "business_exception",
        "system_exception",
        "needs_verification",
        "skipped",
    ] {
        assert_eq!(
            second.get("juru_items_total", &[("bot", "lab"), ("outcome", outcome)]),
            by_state.get(outcome).copied().unwrap_or(0.0),
            "{outcome}"
        );
    }
    assert_eq!(count, 2.0);
    let hist = |s: &Scrape, bot: &str, suffix: &str| {
        s.get(
            &format!("juru_item_duration_seconds{suffix}"),
            &[("bot", bot)],
        )
    };
    assert_eq!(hist(&second, "lab", "_count"), count);
    assert!(
        (hist(&second, "lab", "_sum") - secs).abs() < 0.01,
        "sum {} against {secs} in the store",
        hist(&second, "lab", "_sum")
    );
    assert_eq!(
        second.get("juru_runs_total", &[("bot", "lab"), ("state", "finished")]),
        1.0
    );
    assert_eq!(second.get("juru_runs_running", &[("bot", "lab")]), 0.0);
    // The mails of the run are in the outbox's sent folder: nothing waits.
    assert_eq!(second.get("juru_outbox_depth", &[("state", "failed")]), 0.0);

    // A run the agent starts holds its browser until the gate opens.
    let trigger = p.juru(&["trigger", "tahan"]);
    assert_eq!(trigger.code(), 0, "{trigger}");
    let busy = wait_for("a browser in use and a run going on", 180, &agent, || {
        let s = scrape(addr);
        (s.get("juru_browsers_in_use", &[]) == 1.0
            && s.value("juru_runs_running", &[("bot", "tahan")]) == Some(1.0))
        .then_some(s)
    });
    assert_eq!(
        busy.get(
            "juru_runs_total",
            &[("bot", "tahan"), ("state", "finished")]
        ),
        0.0
    );
    gate.open();
    let after = wait_for(
        "the held run to end and close its browser",
        180,
        &agent,
        || {
            let s = scrape(addr);
            (s.get("juru_browsers_in_use", &[]) == 0.0
                && s.get(
                    "juru_runs_total",
                    &[("bot", "tahan"), ("state", "finished")],
                ) == 1.0)
                .then_some(s)
        },
    );
    assert_eq!(after.get("juru_runs_running", &[("bot", "tahan")]), 0.0);
    assert_eq!(
        after.get("juru_items_total", &[("bot", "tahan"), ("outcome", "done")]),
        1.0
    );
    assert_eq!(hist(&after, "tahan", "_count"), 1.0);
    assert!(hist(&after, "tahan", "_sum") > 0.0);
    // The run of `lab` is counted once, from the tally kept since the last scrape.
    assert_eq!(hist(&after, "lab", "_count"), count);
    assert_eq!(
        after.get("juru_items_total", &[("bot", "lab"), ("outcome", "done")]),
        1.0
    );

    // Names and counts only: no row data, message, output or secret.
    for text in [&second.text, &after.text] {
        for secret in [
            "ditolak",
            "buka",
            "Pintu",
            juru::demo::DEMO_PASSWORD,
            juru::demo::DEMO_USER,
            &gate.url(),
        ] {
            assert!(!text.contains(secret), "{secret:?} shown in\n{text}");
        }
    }

    let (code, log) = agent.stop();
    assert_eq!(code, 0, "{log}");
}

#[test]
fn metrics_can_be_turned_off() {
    let p = Project::new();
    p.write(
        "config/agent.toml",
        "[browser]\nheadless = true\n[web]\nmetrics = false\n",
    );
    let web = WebServer::start(&p);
    let r = http(web.addr, "GET", "/metrics", "", None);
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.text().contains("tidak ditemukan"), "{}", r.text());
}

#[test]
fn the_parser_refuses_what_prometheus_would() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\\\"\"} 2\n";
    let s = parse(ok).unwrap();
    assert_eq!(s.get("a_total", &[("x", "1\"")]), 2.0);
    for bad in [
        "a_total 1\n",
        "# HELP a_total A.\n# TYPE a_total counter\na_total 1\na_total 2\n",
        "# HELP a A.\n# TYPE a counter\na 1\n",
        "# HELP a A.\n# TYPE a gauge\na{x=1} 1\n",
        "# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b gauge\nb 1\na 2\n",
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
        "# HELP a A.\n# TYPE a gauge\na 1",
    ] {
        assert!(parse(bad).is_err(), "accepted:\n{bad}");
    }
}
