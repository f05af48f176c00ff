//! The dashboard as officers, supervisors and admins read it: dates and outputs in
//! plain words, the system exception's detail only for admins, Indonesian weekdays
//! and durations, and a disabled schedule that offers nothing to do.

use juru::store::{ItemEnd, NewRun, Store};

use crate::web::{dashboard_project, item, login, WebServer};

/// Adds run `r2` of bot `lab` to the project's store: a done row with a date and
/// an output, a system exception with a technical reason, an exception without
/// reason; 87 seconds long.
fn second_run(p: &crate::support::Project) {
    let mut store = Store::open(&p.path("var/juru.db")).unwrap();
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
