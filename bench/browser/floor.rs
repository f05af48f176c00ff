//! The browser benchmark's floor: the standard workload (see bench/README.md)
//! with the fewest WebDriver commands it needs, sent back to back by a bare
//! fantoccini loop: no waiting policy, no retries, no recording, no reporting.
//!
//!     bench_floor PORTAL_URL ROWS.csv OUTPUT.csv
//!
//! Starts chromedriver (`/usr/bin/chromedriver`, or $CHROMEDRIVER) with the Chromium
//! flags juru uses, logs in once, then for each row: opens the entry form in the
//! frameset (1), enters the frame `main` (2), fills every field and waits for the
//! save button in one script (3), clicks it (4), accepts the confirm dialog (5),
//! waits for the result and reads the registration number from the `detail` frame
//! in one script (6). Prints `{"rows":N,"webdriver_commands":C}`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::{Element, ElementRef};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

type Error = Box<dyn std::error::Error>;

const FILL: &str = r#"
var r = arguments[0], done = arguments[arguments.length - 1], d = document;
function put(id, v) {
  var e = d.getElementById(id);
  e.value = v;
  e.dispatchEvent(new Event("input", { bubbles: true }));
  e.dispatchEvent(new Event("change", { bubbles: true }));
}
put("nik", r[0]);
put("nama", r[1]);
var s = d.getElementById("jenis");
for (var i = 0; i < s.options.length; i++) { if (s.options[i].text === r[2]) { s.selectedIndex = i; } }
s.dispatchEvent(new Event("change", { bubbles: true }));
d.querySelector('input[name=skala][value="' + r[3] + '"]').click();
var h = d.getElementById("tanggal");
h.value = r[4];
h.onchange();
put("alamat", r[5]);
put("telepon", r[6]);
var b = d.getElementById("simpan");
(function poll() { if (!b.disabled) { done(b); } else { setTimeout(poll, 5); } })();
"#;

const RESULT: &str = r#"
var done = arguments[arguments.length - 1], until = Date.now() + 2000;
(function poll() {
  var ok = document.getElementById("hasil-ok"), f = document.getElementById("detail");
  var n = ok && f && f.contentDocument && f.contentDocument.getElementById("no-reg");
  if (n && n.textContent) { done(n.textContent); }
  else if (Date.now() > until) { done(null); }
  else { setTimeout(poll, 5); }
})();
"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, portal, input, output] = args.as_slice() else {
        return Err("usage: bench_floor PORTAL_URL ROWS.csv OUTPUT.csv".into());
    };
    let text = std::fs::read_to_string(input)?;
    let rows: Vec<Vec<String>> = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let mut chromedriver = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let profile = std::env::temp_dir().join(format!("bench-floor-{}", std::process::id()));
    let result = work(port, &profile, portal, &rows, output).await;
    let _ = chromedriver.kill();
    let _ = chromedriver.wait();
    let _ = std::fs::remove_dir_all(&profile);
    let commands = result?;
    println!(
        "{}",
        json!({ "rows": rows.len(), "webdriver_commands": commands })
    );
    Ok(())
}

async fn connect(port: u16, profile: &std::path::Path) -> Result<Client, Error> {
    let mut args = vec![
        "--headless=new".to_string(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        "--no-default-browser-check".into(),
        "--disable-popup-blocking".into(),
        "--disable-features=Translate,MediaRouter,OptimizationHints,DownloadBubble,DownloadBubbleV2"
            .into(),
        "--password-store=basic".into(),
        "--window-size=1366,900".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        args.insert(1, "--no-sandbox".into());
    }
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "args": args, "binary": "/usr/bin/chromium" },
        "pageLoadStrategy": "normal",
        "unhandledPromptBehavior": "ignore",
        "timeouts": { "pageLoad": 30_000, "script": 30_000, "implicit": 0 },
    });
    let Value::Object(caps) = caps else {
        return Err("capabilities are an object".into());
    };
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps.clone());
        match builder.connect(&url).await {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() >= deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

async fn work(
    port: u16,
    profile: &std::path::Path,
    portal: &str,
    rows: &[Vec<String>],
    output: &str,
) -> Result<u64, Error> {
    let c = connect(port, profile).await?;
    let mut n: u64 = 1; // the new session
    let mut out = std::io::BufWriter::new(std::fs::File::create(output)?);
    writeln!(out, "NIK,Nomor Registrasi")?;

    // Log in once: 7 commands.
    c.goto(&format!("{portal}/login")).await?;
    c.find(Locator::Css("#user"))
        .await?
        .send_keys(juru::demo::DEMO_USER)
        .await?;
    c.find(Locator::Css("#pass"))
        .await?
        .send_keys(juru::demo::DEMO_PASSWORD)
        .await?;
    c.find(Locator::Css("input[value=Masuk]"))
        .await?
        .click()
        .await?;
    n += 7;

    let form = format!("{portal}/utama?hal=baru");
    let trace = std::env::var_os("BENCH_FLOOR_TRACE").is_some();
    for row in rows {
        let t0 = Instant::now();
        c.goto(&form).await?;
        let t1 = Instant::now();
        // The frameset's frames may still be attaching: ask again until they are.
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Err(e) = c.enter_frame(1).await {
            if Instant::now() >= deadline {
                return Err(e.into());
            }
            n += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let button = c.execute_async(FILL, vec![json!(row)]).await?;
        n += 3;
        let t2 = Instant::now();
        let id = button
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .ok_or("the fill script returned no element")?;
        Element::from_element_id(c.clone(), ElementRef::from(id.to_string()))
            .click()
            .await?;
        c.accept_alert().await?;
        n += 2;
        let t3 = Instant::now();
        let nomor = loop {
            n += 1;
            match c.execute_async(RESULT, vec![]).await {
                Ok(Value::String(v)) => break v,
                // The script ran in the form's page, which went away under it
                // (or never saw the result): ask again.
                Ok(_) => continue,
                Err(e) if e.to_string().contains("unloaded") => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if trace {
            let ms = |a: Instant, b: Instant| (b - a).as_millis();
            eprintln!(
                "goto {} fill {} save {} result {}",
                ms(t0, t1),
                ms(t1, t2),
                ms(t2, t3),
                ms(t3, Instant::now())
            );
        }
        writeln!(out, "{},{nomor}", row[0])?;
    }
    out.flush()?;
    c.close().await?;
    n += 1;
    Ok(n)
}
