//! The dashboard as officers, supervisors and admins read it: dates and outputs in
//! plain words, the system exception's detail only for admins, Indonesian weekdays
//! and durations, and a disabled schedule that offers nothing to do.

use juru::store::{ItemEnd, NewRun, Store};

use crate::web::{dashboard_project, item, login, WebServer};

/// Adds run `r2` of bot `lab` to the project's store: a done row with a date and
/// an output, a system exception with a technical reason, an exception without
/// reason; 87 seconds long.
fn second_run(p: &crate::support::Project) {
    let mut store = Store::open(p.path("var/juru.db")).unwrap();
    let start = "2026-11-30T02:00:00+00:00";
    let end = "2026-11-30T02:01:27+00:00";
    store
        .begin_run(
            &NewRun {
                id: "r2",
                bot: "lab",
                trigger: "cli",
                input: "/srv/juru/bots/lab/masuk.xlsx",
                dir: "var/runs/r2",
                started_at: start,
                headers: "[\"No\",\"Nama\",\"Tanggal\"]",
                vars: "{}",
                parent: None,
                only_input: None,
                fire: None,
            },
            &[
                item(2, "[1,\"Ani\",{\"date\":\"2026-01-15\"}]"),
                item(3, "[2,\"Budi\",{\"date\":\"2026-01-16\"}]"),
                item(4, "[3,\"Citra\",null]"),
            ],
        )
        .unwrap();
    let ends = [
        ("done", None, "[[\"Nomor Registrasi\",\"503/2026/0001\"]]"),
        (
            "system_exception",
            Some("element #simpan not found in /srv/juru/var/runs/r2/page.html"),
            "[]",
        ),
        ("business_exception", None, "[]"),
    ];
    for (idx, (state, reason, outputs)) in ends.into_iter().enumerate() {
        store
            .item_finished(
                "r2",
                idx,
                &ItemEnd {
                    state,
                    outputs,
                    reason,
                    finished_at: end,
                    ..Default::default()
                },
            )
            .unwrap();
    }
    store.finish_run("r2", "finished", None, end).unwrap();
}

#[test]
fn pages_read_plainly_and_hide_technical_detail_from_officers() {
    let p = dashboard_project();
    second_run(&p);
    p.write(
        "config/schedules.toml",
        "[lab-pagi]\nbot = \"lab\"\ncron = \"30 7 * * *\"\n\n[lab-lama]\nbot = \"lab\"\ncron = \"0 9 * * *\"\nenabled = false\n",
    );
    p.write(
        "bots/lab/bot.toml",
        "name = \"lab\"\n[input]\nworkbook = \"masuk.xlsx\"\n[notify]\nkey_columns = [\"Nama\"]\n",
    );
    let web = WebServer::start(&p);
    let a = web.addr;
    let siti = login(a, "siti", "sandi-siti-123").unwrap();
    let ani = login(a, "ani", "sandi-ani-123").unwrap();
    let budi = login(a, "budi", "sandi-budi-123").unwrap();

    // Dates as dd/mm/yyyy, outputs of done items, durations in Indonesian.
    let run = siti.get(a, "/runs/r2").text();
    assert!(run.contains("<b>Tanggal</b>: 15/01/2026"), "{run}");
    assert!(
        !run.contains("{&quot;date&quot;") && !run.contains("{\"date\""),
        "{run}"
    );
    assert!(
        run.contains("<td class=\"outputs\"><b>Nomor Registrasi</b>: 503/2026/0001</td>"),
        "{run}"
    );
    assert!(run.contains("1 mnt 27 dtk"), "{run}");

    // A system exception: a plain sentence for the officer, the detail for the admin.
    let plain = "Kesalahan sistem pada bot; tim TI sudah diberi tahu";
    assert!(run.contains(plain), "{run}");
    assert!(!run.contains("#simpan") && !run.contains("/srv/"), "{run}");
    let exc = siti.get(a, "/exceptions").text();
    assert!(exc.contains(plain), "{exc}");
    assert!(!exc.contains("#simpan") && !exc.contains("/srv/"), "{exc}");
    assert!(!budi.get(a, "/exceptions").text().contains("#simpan"));
    let admin = ani.get(a, "/runs/r2").text();
    assert!(admin.contains("element #simpan not found"), "{admin}");
    assert!(ani
        .get(a, "/exceptions")
        .text()
        .contains("element #simpan not found"));

    // Rows are named by the bot's key columns.
    assert!(
        exc.contains("<td>3<br><span class=\"who\">Nama Budi</span></td>"),
        "{exc}"
    );
    assert!(
        exc.contains("<td>4<br><span class=\"who\">Nama Citra</span></td>"),
        "{exc}"
    );

    // An exception without reason gets a label, not an empty heading.
    assert!(
        exc.contains(
            "<h2>pengecualian bisnis (tanpa alasan) <span class=\"muted\">(1)</span></h2>"
        ),
        "{exc}"
    );

    // Schedules: Indonesian weekdays; the disabled one lists no fires and no buttons.
    let sched = budi.get(a, "/schedules").text();
    let days = ["Sen ", "Sel ", "Rab ", "Kam ", "Jum ", "Sab ", "Min "];
    let active = sched
        .split("<tr id=\"schedule-lab-pagi\">")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .expect("the active schedule's row");
    assert_eq!(active.matches("07:30 WIB<br>").count(), 5, "{active}");
    assert!(days.iter().any(|d| active.contains(d)), "{active}");
    assert!(
        !active.contains("Mon ") && !active.contains("Tue "),
        "{active}"
    );
    assert!(active.contains("class=\"pause\""), "{active}");
    let disabled = sched
        .split("<tr id=\"schedule-lab-lama\">")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .expect("the disabled schedule's row");
    assert!(disabled.contains("nonaktif"), "{disabled}");
    assert!(!disabled.contains("09:00"), "no next fires: {disabled}");
    assert!(
        !disabled.contains("class=\"pause\"") && !disabled.contains("class=\"run\""),
        "{disabled}"
    );

    // English pages keep English weekdays.
    assert_eq!(budi.post(a, "/language", "lang=en").status, 303);
    let sched = budi.get(a, "/schedules").text();
    assert!(
        ["Mon ", "Tue ", "Wed ", "Thu ", "Fri ", "Sat ", "Sun "]
            .iter()
            .any(|d| sched.contains(d)),
        "{sched}"
    );
    assert!(budi.get(a, "/runs/r2").text().contains("1 min 27 s"));
}

/// `n` runs of bot `bot`, one a day from `days_ago` days back, each with a done
/// item of 12 s, a business exception with `reason` and (every other day) a system
/// exception; runs last 87 s; each run answers a fire of schedule `lab-pagi`, the
/// first one late.
fn history(p: &crate::support::Project, bot: &str, n: i64, reason: &str) {
    let mut store = Store::open(p.path("var/juru.db")).unwrap();
    let now = chrono::Utc::now();
    for k in 0..n {
        let start = now - chrono::Duration::days(n - k) - chrono::Duration::hours(1);
        let at = |secs: i64| (start + chrono::Duration::seconds(secs)).to_rfc3339();
        let id = format!("{bot}-{k}");
        store
            .begin_run(
                &NewRun {
                    id: &id,
                    bot,
                    trigger: "schedule",
                    input: "masuk.xlsx",
                    dir: "var/runs/x",
                    started_at: &at(0),
                    headers: "[\"No\",\"Nama\"]",
                    vars: "{}",
                    parent: None,
                    only_input: None,
                    fire: None,
                },
                &[
                    item(2, "[1,\"Ani\"]"),
                    item(3, "[2,\"Budi\"]"),
                    item(4, "[3,\"Citra\"]"),
                ],
            )
            .unwrap();
        let states = [
            ("done", None),
            ("business_exception", Some(reason)),
            (
                if k % 2 == 0 {
                    "system_exception"
                } else {
                    "done"
                },
                Some("timeout"),
            ),
        ];
        for (idx, (state, why)) in states.into_iter().enumerate() {
            store
                .item_started(&id, idx, &at(idx as i64 * 20), 1)
                .unwrap();
            store
                .item_finished(
                    &id,
                    idx,
                    &ItemEnd {
                        state,
                        outputs: "[]",
                        reason: why.filter(|_| state != "done"),
                        finished_at: &at(idx as i64 * 20 + 12),
                        ..Default::default()
                    },
                )
                .unwrap();
        }
        store.finish_run(&id, "finished", None, &at(87)).unwrap();
        let due = (start - chrono::Duration::seconds(if k == 0 { 600 } else { 5 }))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        store.claim_fire("lab-pagi", &due, "fired", None).unwrap();
        store
            .update_fire("lab-pagi", &due, "fired", None, Some(&id))
            .unwrap();
    }
}

#[test]
fn exceptions_are_filtered_paged_and_exported() {
    let p = dashboard_project();
    history(&p, "lab", 30, "NIK tidak terdaftar");
    history(&p, "izin", 2, "Nama tidak cocok");
    let web = WebServer::start(&p);
    let a = web.addr;
    let siti = login(a, "siti", "sandi-siti-123").unwrap();
    // 30 + 15 + 1 (r1) open exceptions of lab, 2 + 1 of izin: 49, one page of 50.
    let all = siti.get(a, "/exceptions").text();
    assert!(
        all.contains("<span class=\"muted\" id=\"total\">49 pengecualian terbuka</span>"),
        "{all}"
    );
    assert!(!all.contains("id=\"pages\""), "{all}");
    let izin = siti.get(a, "/exceptions?bot=izin").text();
    assert!(izin.contains("id=\"total\">3 "), "{izin}");
    let reason = siti.get(a, "/exceptions?reason=nama%20tidak").text();
    assert!(reason.contains("id=\"total\">2 "), "{reason}");
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Jakarta);
    let from = (today - chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let recent = siti
        .get(a, &format!("/exceptions?bot=lab&from={from}"))
        .text();
    // lab's runs of the last three days (and r1, today).
    let n: usize = recent
        .split("id=\"total\">")
        .nth(1)
        .and_then(|x| x.split_whitespace().next())
        .and_then(|x| x.parse().ok())
        .expect("a total");
    assert!((4..=7).contains(&n), "{n}: {recent}");

    // Paging: more than 50 after another 20 runs.
    history(&p, "arsip", 20, "Berkas rusak");
    let page1 = siti.get(a, "/exceptions").text();
    assert!(page1.contains("id=\"total\">79 "), "{page1}");
    assert!(page1.contains("<p id=\"pages\">Halaman <b>1</b> <a href=\"/exceptions?bot=&reason=&from=&to=&page=2\">2</a></p>"), "{page1}");
    assert_eq!(page1.matches("<tr id=\"item-").count(), 50);
    let page2 = siti.get(a, "/exceptions?page=2").text();
    assert_eq!(page2.matches("<tr id=\"item-").count(), 29);

    // The export holds what the filter keeps, with the plain reason for officers.
    assert!(
        izin.contains("href=\"/exceptions.xlsx?bot=izin&reason=&from=&to=\""),
        "{izin}"
    );
    let x = siti.get(a, "/exceptions.xlsx?bot=izin");
    assert_eq!(x.status, 200);
    assert_eq!(
        x.header("content-type"),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    let path = p.path("tmp/export.xlsx");
    std::fs::write(&path, &x.body).unwrap();
    let sheet = juru::sheet::read(&path, Some("Pengecualian")).unwrap();
    assert_eq!(
        sheet.headers,
        ["Proses", "Bot", "Baris", "Status", "Alasan", "Waktu", "No", "Nama"]
    );
    assert_eq!(sheet.rows.len(), 3);
    let reasons: Vec<String> = sheet.rows.iter().map(|r| r.cells[4].to_text()).collect();
    assert!(
        reasons.contains(&"Nama tidak cocok".to_string()),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"Kesalahan sistem pada bot; tim TI sudah diberi tahu".to_string()),
        "{reasons:?}"
    );
    assert!(!reasons.contains(&"timeout".to_string()), "{reasons:?}");
}

#[test]
fn trends_chart_known_data_in_a_real_browser() {
    let p = dashboard_project();
    history(&p, "lab", 4, "NIK tidak terdaftar");
    let web = WebServer::start(&p);
    let a = web.addr;

    // The HTML: four days of three items each, stacked by outcome.
    let budi = login(a, "budi", "sandi-budi-123").unwrap();
    let page = budi.get(a, "/trends").text();
    assert!(page.contains("<h1>Tren 30 hari</h1>"), "{page}");
    let chart = page
        .split("<svg class=\"chart items\" data-bot=\"lab\"")
        .nth(1)
        .and_then(|x| x.split("</svg>").next())
        .expect("lab's items chart");
    assert_eq!(
        chart.matches("<rect class=\"business\"").count(),
        5,
        "4 days + r1 today"
    );
    assert_eq!(
        chart.matches("<rect class=\"system\"").count(),
        2,
        "{chart}"
    );
    let first = (chrono::Utc::now() - chrono::Duration::days(4) - chrono::Duration::hours(1))
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive();
    assert!(
        chart.contains(&format!(
            "<rect class=\"done\" data-day=\"{first}\" data-n=\"1\""
        )),
        "{chart}"
    );
    assert!(chart.contains(" selesai</title>"), "{chart}");
    // 4 business and 2 system of 12 items in 4 runs, and 1 of r1's 2 items: 7 of 14.
    assert!(page.contains("Tingkat pengecualian: 50%"), "{page}");
    assert!(page.contains("Median waktu per item: 12 dtk"), "{page}");
    assert!(page.contains("Proses: 5, median 1 mnt 27 dtk"), "{page}");
    assert_eq!(
        page.matches("<rect class=\"run\" data-secs=\"87\"").count(),
        4,
        "{page}"
    );
    assert!(
        page.contains("data-schedule=\"lab-pagi\" data-on-time=\"3\" data-late=\"1\""),
        "{page}"
    );

    // The browser draws it; the picture goes to docs/img with JURU_WEB_SCREENSHOTS.
    let shots = match std::env::var_os("JURU_WEB_SCREENSHOTS") {
        Some(d) => std::path::PathBuf::from(d),
        None => p.path("shots"),
    };
    std::fs::create_dir_all(&shots).unwrap();
    let url = format!("http://{a}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result: anyhow::Result<(u64, u64)> = rt.block_on(async {
        let settings = juru::browser::Settings {
            window_size: (1100, 900),
            ..Default::default()
        };
        let driver = juru::browser::Driver::start(&settings, None).await?;
        let browser = match juru::browser::Browser::open(driver.url(), &settings, None).await {
            Ok(b) => b,
            Err(e) => {
                driver.stop().await;
                return Err(e.into());
            }
        };
        let walked = async {
            let b = &browser;
            b.goto(&format!("{url}/login")).await?;
            b.type_text("#user", "budi").await?;
            b.type_text("#password", "sandi-budi-123").await?;
            b.click("#login").await?;
            b.wait_for("#logout").await?;
            b.click_link("Tren").await?;
            b.wait_for("svg.chart.items").await?;
            let size = b.text("#bot-lab .rate").await?;
            anyhow::ensure!(size.contains("50%"), "{size}");
            b.screenshot(&shots.join("dashboard-trends.png")).await?;
            let png = std::fs::read(shots.join("dashboard-trends.png"))?;
            Ok((png.len() as u64, png_width(&png)))
        }
        .await;
        browser.close().await;
        driver.stop().await;
        walked
    });
    let (bytes, width) = result.unwrap();
    assert!(bytes > 5_000 && bytes < 300_000, "{bytes} bytes");
    assert!(width >= 1000, "{width} px wide");
}

/// The width of a PNG from its header.
fn png_width(png: &[u8]) -> u64 {
    u32::from_be_bytes([png[16], png[17], png[18], png[19]]).into()
}
