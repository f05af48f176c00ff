//! `juru schedules` and `juru check` on config/schedules.toml and its calendars: the
//! fire times printed in local time, days skipped with their reason, problems with
//! file, line and column.

use crate::support::{Project, REPO};

/// A project with the demo bot and the repository's Indonesian calendar.
fn project(schedules: &str) -> Project {
    let p = Project::with_demo_bot();
    let calendar =
        std::fs::read_to_string(format!("{REPO}/config/calendars/id-kerja.toml")).unwrap();
    p.write("config/calendars/id-kerja.toml", &calendar);
    p.write("config/schedules.toml", schedules);
    p
}

/// The indented fire lines printed under the schedule `name`.
fn lines_of(stdout: &str, name: &str) -> Vec<String> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with(&format!("{name}:")))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn lists_fires_in_local_time_with_skipped_and_moved_days() {
    let p = project(
        r#"
[izin-pagi]
bot = "demo-perizinan"
cron = "30 7 * * 1-5"
calendar = "id-kerja"

[rekap-bulanan]
bot = "demo-perizinan"
cron = "0 0 7 1 * *"
calendar = "id-kerja"
on_holiday = "next_working_day"

[malam]
bot = "demo-perizinan"
cron = "0 22 * * *"
time_zone = "Europe/Amsterdam"
enabled = false
"#,
    );
    let run = p.juru(&["schedules", "--from", "2026-04-29"]);
    assert_eq!(run.code(), 0, "{run}");
    let out = run.stdout();
    assert!(
        out.contains("izin-pagi: bot demo-perizinan, cron \"30 7 * * 1-5\" in Asia/Jakarta, calendar id-kerja (on a day off: skip)\n"),
        "{run}"
    );
    assert_eq!(
        lines_of(&out, "izin-pagi"),
        [
            "Wed 29/04/2026 07:30 WIB",
            "Thu 30/04/2026 07:30 WIB",
            "Fri 01/05/2026 07:30 WIB  skipped (libur: Hari Buruh Internasional)",
            "Mon 04/05/2026 07:30 WIB",
            "Tue 05/05/2026 07:30 WIB",
            "Wed 06/05/2026 07:30 WIB",
        ],
        "{run}"
    );
    assert_eq!(
        lines_of(&out, "rekap-bulanan"),
        [
            "Fri 01/05/2026 07:00 WIB  skipped (libur: Hari Buruh Internasional), moved to Mon 04/05/2026",
            "Mon 04/05/2026 07:00 WIB  moved from Fri 01/05/2026 (libur: Hari Buruh Internasional)",
            "Mon 01/06/2026 07:00 WIB  skipped (libur: Hari Lahir Pancasila), moved to Tue 02/06/2026",
            "Tue 02/06/2026 07:00 WIB  moved from Mon 01/06/2026 (libur: Hari Lahir Pancasila)",
            "Wed 01/07/2026 07:00 WIB",
            "Sat 01/08/2026 07:00 WIB  skipped (libur: akhir pekan), moved to Mon 03/08/2026",
            "Mon 03/08/2026 07:00 WIB  moved from Sat 01/08/2026 (libur: akhir pekan)",
            "Tue 01/09/2026 07:00 WIB",
        ],
        "{run}"
    );
    assert!(
        out.contains("malam: bot demo-perizinan, cron \"0 22 * * *\" in Europe/Amsterdam: disabled (enabled = false), does not fire"),
        "{run}"
    );

    // Lebaran 2026: one long stretch of days off, and a count of fires.
    let run = p.juru(&["schedules", "--from", "2026-03-17T08:00", "-n", "2"]);
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(
        lines_of(&run.stdout(), "izin-pagi"),
        [
            "Wed 18/03/2026 07:30 WIB  skipped (libur: Cuti Bersama Hari Suci Nyepi (Tahun Baru Saka 1948))",
            "Thu 19/03/2026 07:30 WIB  skipped (libur: Hari Suci Nyepi (Tahun Baru Saka 1948))",
            "Fri 20/03/2026 07:30 WIB  skipped (libur: Cuti Bersama Idulfitri 1447 Hijriah)",
            "Mon 23/03/2026 07:30 WIB  skipped (libur: Cuti Bersama Idulfitri 1447 Hijriah)",
            "Tue 24/03/2026 07:30 WIB  skipped (libur: Cuti Bersama Idulfitri 1447 Hijriah)",
            "Wed 25/03/2026 07:30 WIB",
            "Thu 26/03/2026 07:30 WIB",
        ],
        "{run}"
    );
}

#[test]
fn daylight_saving_days_fire_once() {
    let p = project(
        r#"
[amsterdam]
bot = "demo-perizinan"
cron = "0 30 2 * * *"
time_zone = "Europe/Amsterdam"

[new-york]
bot = "demo-perizinan"
cron = "30 1 * * *"
time_zone = "America/New_York"
"#,
    );
    let run = p.juru(&["schedules", "--from", "2026-03-28", "-n", "3"]);
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(
        lines_of(&run.stdout(), "amsterdam"),
        [
            "Sat 28/03/2026 02:30 CET",
            "Sun 29/03/2026 03:00 CEST  (02:30 does not exist that day: daylight saving time starts)",
            "Mon 30/03/2026 02:30 CEST",
        ],
        "{run}"
    );
    let run = p.juru(&["schedules", "--from", "2026-10-24T12:00", "-n", "3"]);
    assert_eq!(
        lines_of(&run.stdout(), "amsterdam"),
        [
            "Sun 25/10/2026 02:30 CEST",
            "Mon 26/10/2026 02:30 CET",
            "Tue 27/10/2026 02:30 CET",
        ],
        "{run}"
    );
    let run = p.juru(&["schedules", "--from", "2026-10-31T12:00", "-n", "2"]);
    assert_eq!(
        lines_of(&run.stdout(), "new-york"),
        ["Sun 01/11/2026 01:30 EDT", "Mon 02/11/2026 01:30 EST"],
        "{run}"
    );
}

#[test]
fn check_lists_every_schedule_and_calendar_problem() {
    let p = project(
        r#"[izin-pagi]
bot = "demo-perijinan"
cron = "30 7 * * mon-fry"
calendar = "id-kerja"
on_holiday = "besok"

[izin-sore]
bot = "demo-perizinan"
cron = "0 0 16 * * * * *"
calendar = "libur-daerah"
"#,
    );
    p.write(
        "config/calendars/libur-daerah.toml",
        "weekends = [\"sat\", \"sun\"]\n[holidays]\n2026-02-30 = \"Hari jadi kota\"\n",
    );
    let run = p.juru(&["check"]);
    assert_eq!(run.code(), 2, "{run}");
    let err = run.stderr();
    for expected in [
        "error: config/calendars/libur-daerah.toml:3:1: holidays.2026-02-30: \"2026-02-30\" is not a date; expected YYYY-MM-DD such as 2026-08-17\n",
        "error: config/schedules.toml:2:7: izin-pagi.bot: no bot named \"demo-perijinan\"; the bots are: demo-perizinan\n",
        "error: config/schedules.toml:3:8: izin-pagi.cron: the day-of-week field \"mon-fry\" (field 5 of 5) has \"fry\", expected a number 0-7 or a day name (sun-sat)\n",
        "error: config/schedules.toml:5:14: izin-pagi.on_holiday: unknown value \"besok\", expected \"skip\" or \"next_working_day\"\n",
        "error: config/schedules.toml:9:8: izin-sore.cron: \"0 0 16 * * * * *\" has 8 fields, expected 5 (minute hour day-of-month month day-of-week), 6 (a second field first) or 7 (and a year last)\n",
        "5 problems found",
    ] {
        assert!(err.contains(expected), "wanted {expected}\n{run}");
    }
    // A calendar with problems of its own adds no second problem to its schedule.
    assert!(!err.contains("izin-sore.calendar"), "{run}");
    assert_eq!(run.stdout(), "", "{run}");

    let run = p.juru(&["schedules"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stderr().contains("5 problems found"), "{run}");
    assert_eq!(run.stdout(), "", "{run}");
    p.assert_nothing_written();
}

#[test]
fn the_repository_schedules_list_and_check_clean() {
    let p = Project::new();
    let config = format!("{REPO}/config");
    let bots = format!("{REPO}/bots");
    let run = p.juru(&[
        "--config",
        &config,
        "--bots",
        &bots,
        "schedules",
        "--from",
        "2026-06-15",
    ]);
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(
        lines_of(&run.stdout(), "izin-pagi"),
        [
            "Mon 15/06/2026 07:30 WIB",
            "Tue 16/06/2026 07:30 WIB  skipped (libur: Tahun Baru Islam 1448 Hijriah)",
            "Wed 17/06/2026 07:30 WIB",
            "Thu 18/06/2026 07:30 WIB",
            "Fri 19/06/2026 07:30 WIB",
            "Mon 22/06/2026 07:30 WIB",
        ],
        "{run}"
    );
    let run = p.juru(&["--config", &config, "--bots", &bots, "check"]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(
        run.stdout()
            .contains("/config/schedules.toml (2 schedules)"),
        "{run}"
    );
}

#[test]
fn a_calendar_without_the_year_says_so() {
    let p = project(
        "[izin]\nbot = \"demo-perizinan\"\ncron = \"30 7 * * 1-5\"\ncalendar = \"id-kerja\"\n",
    );
    let run = p.juru(&["schedules", "--from", "2026-12-30", "-n", "3"]);
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(
        lines_of(&run.stdout(), "izin"),
        [
            "Wed 30/12/2026 07:30 WIB",
            "Thu 31/12/2026 07:30 WIB",
            "Fri 01/01/2027 07:30 WIB",
            "note: calendar id-kerja lists no holidays in 2027, so only its weekends are skipped then; add that year's days to config/calendars/id-kerja.toml",
        ],
        "{run}"
    );
}

#[test]
fn without_a_schedules_file_there_is_nothing_to_list() {
    let p = Project::with_demo_bot();
    let run = p.juru(&["schedules"]);
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(
        run.stdout(),
        "no schedules in config/schedules.toml\n",
        "{run}"
    );
    let run = p.juru(&["schedules", "--from", "besok"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr()
            .contains("expected YYYY-MM-DD or YYYY-MM-DDTHH:MM, got \"besok\""),
        "{run}"
    );
}
