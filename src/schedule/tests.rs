//! Fire times: cron forms × zones × calendars × daylight saving, and the missed-run
//! policy.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc, Weekday};
use chrono_tz::Tz;
use chrono_tz::{America::New_York, Asia::Jakarta, Europe::Amsterdam};

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn wall(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .unwrap()
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn schedule(expr: &str, zone: Tz) -> Schedule {
    Schedule::new(expr.parse().unwrap(), zone)
}

/// The next `n` fires after the local wall time `from`, as local `YYYY-MM-DD HH:MM:SS ZZZ`.
fn next_local(s: &Schedule, from: &str, n: usize) -> Vec<String> {
    s.fires_after(instant_of(s.zone, wall(from)))
        .take(n)
        .map(|f| {
            f.at.with_timezone(&s.zone)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string()
        })
        .collect()
}

fn next_utc(s: &Schedule, after: &str, n: usize) -> Vec<DateTime<Utc>> {
    s.fires_after(utc(after)).take(n).map(|f| f.at).collect()
}

/// A calendar with a few 2026 Indonesian holidays and cuti bersama.
fn kerja() -> Arc<Calendar> {
    let days = [
        ("2026-03-18", "Cuti Bersama Hari Suci Nyepi"),
        ("2026-03-19", "Hari Suci Nyepi"),
        ("2026-03-20", "Cuti Bersama Idulfitri 1447 Hijriah"),
        ("2026-03-21", "Idulfitri 1447 Hijriah"),
        ("2026-03-22", "Idulfitri 1447 Hijriah"),
        ("2026-03-23", "Cuti Bersama Idulfitri 1447 Hijriah"),
        ("2026-03-24", "Cuti Bersama Idulfitri 1447 Hijriah"),
        ("2026-05-01", "Hari Buruh Internasional"),
        ("2026-06-01", "Hari Lahir Pancasila"),
        ("2026-06-16", "Tahun Baru Islam 1448 Hijriah"),
    ]
    .into_iter()
    .map(|(d, n)| (date(d), n.to_string()))
    .collect::<BTreeMap<_, _>>();
    Arc::new(Calendar::new("uji", &[Weekday::Sat, Weekday::Sun], days))
}

// --- expressions ------------------------------------------------------------

#[test]
fn five_fields_are_crontab_with_second_zero() {
    let five = schedule("30 7 * * 1-5", Jakarta);
    let six = schedule("0 30 7 * * 1-5", Jakarta);
    let from = "2026-06-12T00:00:00Z"; // a Friday
    assert_eq!(next_utc(&five, from, 10), next_utc(&six, from, 10));
    assert_eq!(
        next_local(&five, "2026-06-12 08:00", 3),
        [
            "2026-06-15 07:30:00 WIB",
            "2026-06-16 07:30:00 WIB",
            "2026-06-17 07:30:00 WIB"
        ]
    );
    // 07:30 WIB is 00:30 UTC: instants come out in UTC.
    assert_eq!(
        five.next_after(utc("2026-06-12T00:30:00Z")).unwrap().at,
        utc("2026-06-15T00:30:00Z")
    );
}

#[test]
fn day_of_week_numbers_are_crontabs_in_every_form() {
    let on = |expr: &str| -> BTreeSet<u32> {
        use chrono::Datelike;
        schedule(expr, Jakarta)
            .fires_after(utc("2026-06-01T00:00:00Z"))
            .take(14)
            .map(|f| {
                f.at.with_timezone(&Jakarta)
                    .weekday()
                    .num_days_from_sunday()
            })
            .collect()
    };
    let set = |days: &[Weekday]| {
        days.iter()
            .map(|d| d.num_days_from_sunday())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(on("0 12 * * 0"), set(&[Weekday::Sun]));
    assert_eq!(on("0 12 * * 7"), set(&[Weekday::Sun]));
    assert_eq!(on("0 12 * * 1"), set(&[Weekday::Mon]));
    assert_eq!(on("0 0 12 * * 1"), set(&[Weekday::Mon]), "6 fields");
    assert_eq!(on("0 0 12 * * 6 2026"), set(&[Weekday::Sat]), "7 fields");
    assert_eq!(on("0 12 * * sun"), set(&[Weekday::Sun]));
    assert_eq!(
        on("0 12 * * 5-7"),
        set(&[Weekday::Fri, Weekday::Sat, Weekday::Sun])
    );
    assert_eq!(
        on("0 12 * * */3"),
        set(&[Weekday::Sun, Weekday::Wed, Weekday::Sat])
    );
    assert_eq!(
        on("0 12 * * mon-fri"),
        set(&[
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri
        ])
    );
    assert_eq!(on("0 12 * * MON-FRI"), on("0 12 * * 1-5"));

    // Why juru translates: the cron crate on its own reads 1 as Sunday.
    use chrono::Datelike;
    let raw: cron::Schedule = "0 0 12 * * 1".parse().unwrap();
    let first = raw.after(&utc("2026-06-01T00:00:00Z")).next().unwrap();
    assert_eq!(first.weekday(), Weekday::Sun);
}

#[test]
fn both_day_fields_given_means_either_as_in_crontab() {
    // The 1st of the month, and every Monday.
    let s = schedule("0 8 1 * 1", Jakarta);
    assert_eq!(
        next_local(&s, "2026-06-20 00:00", 4),
        [
            "2026-06-22 08:00:00 WIB",
            "2026-06-29 08:00:00 WIB",
            "2026-07-01 08:00:00 WIB",
            "2026-07-06 08:00:00 WIB"
        ]
    );
    assert_eq!(s.cron.weekdays().len(), 7);
    // A `*` in one day field: the other one decides.
    let s = schedule("0 8 * * 6,0", Jakarta);
    assert_eq!(s.cron.weekdays(), [Weekday::Sat, Weekday::Sun]);
}

#[test]
fn shorthands_are_five_field_forms() {
    for (short, long) in [
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@hourly", "0 * * * *"),
    ] {
        let from = "2026-06-15T03:00:00Z";
        assert_eq!(
            next_utc(&schedule(short, Jakarta), from, 3),
            next_utc(&schedule(long, Jakarta), from, 3),
            "{short}"
        );
    }
    assert!(matches!(
        "@reboot".parse::<Cron>(),
        Err(CronError::Other { .. })
    ));
}

#[test]
fn month_ends_and_leap_days() {
    let s = schedule("0 9 31 * *", Jakarta);
    assert_eq!(
        next_local(&s, "2026-03-31 10:00", 3),
        [
            "2026-05-31 09:00:00 WIB",
            "2026-07-31 09:00:00 WIB",
            "2026-08-31 09:00:00 WIB"
        ]
    );
    let s = schedule("0 9 29 2 *", Jakarta);
    assert_eq!(
        next_local(&s, "2026-01-01 00:00", 2),
        ["2028-02-29 09:00:00 WIB", "2032-02-29 09:00:00 WIB"]
    );
    let s = schedule("0 0 1 * *", Jakarta);
    assert_eq!(
        next_local(&s, "2026-12-31 23:59:59", 2),
        ["2027-01-01 00:00:00 WIB", "2027-02-01 00:00:00 WIB"]
    );
}

#[test]
fn seconds_and_years() {
    let s = schedule("*/20 * * * * *", Jakarta);
    assert!(s.cron.has_seconds());
    assert_eq!(
        next_local(&s, "2026-06-15 07:59:50", 3),
        [
            "2026-06-15 08:00:00 WIB",
            "2026-06-15 08:00:20 WIB",
            "2026-06-15 08:00:40 WIB"
        ]
    );
    assert!(!schedule("30 7 * * *", Jakarta).cron.has_seconds());
    let s = schedule("0 0 9 1 1 * 2027", Jakarta);
    assert_eq!(
        next_local(&s, "2026-06-15 00:00", 5),
        ["2027-01-01 09:00:00 WIB"]
    );
    assert_eq!(s.next_after(utc("2027-06-01T00:00:00Z")), None);
}

fn field_error(expr: &str) -> (Field, usize, usize, String) {
    match expr.parse::<Cron>() {
        Err(CronError::Field {
            field,
            position,
            count,
            reason,
            ..
        }) => (field, position, count, reason),
        other => panic!("{expr}: {other:?}"),
    }
}

#[test]
fn a_bad_expression_names_its_field_and_why() {
    let (f, pos, count, why) = field_error("61 7 * * *");
    assert_eq!((f, pos, count), (Field::Minute, 1, 5));
    assert_eq!(why, "has 61, outside 0-59");
    assert_eq!(
        "61 7 * * *".parse::<Cron>().unwrap_err().to_string(),
        "the minute field \"61\" (field 1 of 5) has 61, outside 0-59"
    );
    assert_eq!(field_error("30 24 * * *").0, Field::Hour);
    assert_eq!(
        field_error("30 7 0 * *"),
        (Field::DayOfMonth, 3, 5, "has 0, outside 1-31".into())
    );
    assert_eq!(field_error("30 7 * 13 *").0, Field::Month);
    assert_eq!(
        field_error("30 7 * * 8").3,
        "has 8, outside 0-7 (0 and 7 are Sunday, 1 Monday, 6 Saturday)"
    );
    assert_eq!(
        field_error("30 7 * * mon-fry").3,
        "has \"fry\", expected a number 0-7 or a day name (sun-sat)"
    );
    assert_eq!(
        field_error("30 7 * jun-agu *").3,
        "has \"agu\", expected a number 1-12 or a month name (jan-dec)"
    );
    assert_eq!(
        field_error("*/0 * * * *").3,
        "has a step of 0 after `/`; a step must be 1 or more"
    );
    assert!(field_error("30 7 L * *")
        .3
        .contains("L, W and # are not supported"));
    assert_eq!(
        field_error("30 7 * * 5-1").3,
        "has the range 5-1, which runs backwards; write it as two pieces, e.g. 5-6,0-1"
    );
    assert_eq!(
        field_error("30 22-2 * * *").3,
        "has the range 22-2, which runs backwards; write it as two pieces, e.g. 22-23,0-2"
    );
    assert_eq!(field_error("30 7 1,,15 * *").0, Field::DayOfMonth);
    assert_eq!(field_error("? 7 * * *").0, Field::Minute);
    assert_eq!(
        field_error("60 30 7 * * *"),
        (Field::Second, 1, 6, "has 60, outside 0-59".into())
    );
    assert_eq!(
        field_error("0 0 0 1 1 * 1969"),
        (Field::Year, 7, 7, "has 1969, outside 1970-2100".into())
    );
    assert_eq!(
        "0 0 * *".parse::<Cron>().unwrap_err().to_string(),
        "\"0 0 * *\" has 4 fields, expected 5 (minute hour day-of-month month day-of-week), 6 (a second field first) or 7 (and a year last)"
    );
    assert!(matches!(
        "0 0 30 2 *".parse::<Cron>(),
        Err(CronError::Never { .. })
    ));
    // Accepted forms.
    for ok in [
        "30 7 ? * *",
        "0 7 * * ?",
        "0,30 7-17/2 * jan-jun,dec mon,wed,fri",
        "5/15 * * * *",
        "@daily",
    ] {
        assert!(ok.parse::<Cron>().is_ok(), "{ok}");
    }
}

// --- daylight saving ----------------------------------------------------------

#[test]
fn spring_forward_gap_runs_once_at_the_end_of_the_gap() {
    // Amsterdam, 29 March 2026: 02:00 CET jumps to 03:00 CEST.
    let s = schedule("30 2 * * *", Amsterdam);
    assert_eq!(
        next_local(&s, "2026-03-27 12:00", 4),
        [
            "2026-03-28 02:30:00 CET",
            "2026-03-29 03:00:00 CEST",
            "2026-03-30 02:30:00 CEST",
            "2026-03-31 02:30:00 CEST"
        ]
    );
    let f = s.next_after(utc("2026-03-28T12:00:00Z")).unwrap();
    assert_eq!(f.at, utc("2026-03-29T01:00:00Z"));
    assert_eq!(f.wall, wall("2026-03-29 02:30"));
    // New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT.
    let s = schedule("30 2 * * *", New_York);
    assert_eq!(
        next_utc(&s, "2026-03-07T12:00:00Z", 2),
        [utc("2026-03-08T07:00:00Z"), utc("2026-03-09T06:30:00Z")]
    );
}

#[test]
fn fall_back_overlap_runs_once_at_the_first_occurrence() {
    // Amsterdam, 25 October 2026: 03:00 CEST falls back to 02:00 CET.
    let s = schedule("30 2 * * *", Amsterdam);
    assert_eq!(
        next_local(&s, "2026-10-24 12:00", 2),
        ["2026-10-25 02:30:00 CEST", "2026-10-26 02:30:00 CET"]
    );
    // New York, 1 November 2026: 02:00 EDT falls back to 01:00 EST.
    let s = schedule("30 1 * * *", New_York);
    assert_eq!(
        next_utc(&s, "2026-10-31T12:00:00Z", 2),
        [utc("2026-11-01T05:30:00Z"), utc("2026-11-02T06:30:00Z")]
    );
}

#[test]
fn frequent_fires_across_the_gap_and_the_overlap() {
    let s = schedule("*/15 * * * *", Amsterdam);
    assert_eq!(
        next_local(&s, "2026-03-29 01:20", 4),
        [
            "2026-03-29 01:30:00 CET",
            "2026-03-29 01:45:00 CET",
            "2026-03-29 03:00:00 CEST",
            "2026-03-29 03:15:00 CEST"
        ]
    );
    // The repeated hour runs once, in summer time; winter time resumes at 03:00.
    assert_eq!(
        next_utc(&s, "2026-10-25T00:30:00Z", 3),
        [
            utc("2026-10-25T00:45:00Z"),
            utc("2026-10-25T02:00:00Z"),
            utc("2026-10-25T02:15:00Z")
        ]
    );
    // Asked from inside the second pass of the repeated hour.
    let hourly = schedule("0 * * * *", Amsterdam);
    assert_eq!(
        next_utc(&hourly, "2026-10-25T01:10:00Z", 1),
        [utc("2026-10-25T02:00:00Z")]
    );
}

#[test]
fn wall_times_map_through_the_zone() {
    assert_eq!(
        instant_of(Amsterdam, wall("2026-03-29 02:30")),
        utc("2026-03-29T01:00:00Z")
    );
    assert_eq!(
        instant_of(Amsterdam, wall("2026-10-25 02:30")),
        utc("2026-10-25T00:30:00Z")
    );
    assert_eq!(
        instant_of(Jakarta, wall("2026-06-15 07:30")),
        utc("2026-06-15T00:30:00Z")
    );
    // Lord Howe Island moves its clock by half an hour: 02:00 -> 02:30 (UTC+11).
    assert_eq!(
        instant_of(chrono_tz::Australia::Lord_Howe, wall("2026-10-04 02:15")),
        utc("2026-10-03T15:30:00Z")
    );
}

// --- calendars -----------------------------------------------------------------

#[test]
fn a_calendar_skips_holidays_and_says_why() {
    let s = schedule("30 7 * * 1-5", Jakarta).with_calendar(kerja(), OnHoliday::Skip);
    let from = instant_of(Jakarta, wall("2026-06-14 12:00"));
    let lines: Vec<String> = s
        .upcoming(from, 3)
        .iter()
        .map(|o| o.describe(Jakarta))
        .collect();
    assert_eq!(
        lines,
        [
            "Mon 15/06/2026 07:30 WIB",
            "Tue 16/06/2026 07:30 WIB  skipped (libur: Tahun Baru Islam 1448 Hijriah)",
            "Wed 17/06/2026 07:30 WIB",
            "Thu 18/06/2026 07:30 WIB"
        ]
    );
    // Every day: weekends are skipped too, once per day however often it fires.
    let s = schedule("0 8-16 * * *", Jakarta).with_calendar(kerja(), OnHoliday::Skip);
    let o = s.upcoming(instant_of(Jakarta, wall("2026-06-05 16:30")), 1);
    assert_eq!(o.len(), 3, "{o:?}");
    assert!(matches!(
        &o[0],
        Occurrence::Skipped {
            reason: DayOff::Weekend(Weekday::Sat),
            ..
        }
    ));
    assert_eq!(
        o[1].describe(Jakarta),
        "Sun 07/06/2026 08:00 WIB  skipped (libur: akhir pekan)"
    );
    assert_eq!(o[2].describe(Jakarta), "Mon 08/06/2026 08:00 WIB");
}

#[test]
fn next_working_day_moves_the_run_once_to_the_same_time() {
    // The first of the month; 1 May 2026 (Friday) is Hari Buruh.
    let s = schedule("0 7 1 * *", Jakarta).with_calendar(kerja(), OnHoliday::NextWorkingDay);
    let o = s.upcoming(instant_of(Jakarta, wall("2026-04-30 00:00")), 1);
    let lines: Vec<String> = o.iter().map(|o| o.describe(Jakarta)).collect();
    assert_eq!(
        lines,
        [
            "Fri 01/05/2026 07:00 WIB  skipped (libur: Hari Buruh Internasional), moved to Mon 04/05/2026",
            "Mon 04/05/2026 07:00 WIB  moved from Fri 01/05/2026 (libur: Hari Buruh Internasional)"
        ]
    );
    // Two fires a day over Friday's holiday and the weekend: one moved run, merged
    // with Monday's own 09:00; Monday's 14:00 still runs.
    let s = schedule("0 9,14 * * *", Jakarta).with_calendar(kerja(), OnHoliday::NextWorkingDay);
    let fires = next_local(&s, "2026-04-30 12:00", 4);
    assert_eq!(
        fires,
        [
            "2026-04-30 14:00:00 WIB",
            "2026-05-04 09:00:00 WIB",
            "2026-05-04 14:00:00 WIB",
            "2026-05-05 09:00:00 WIB"
        ]
    );
    let moved = s
        .next_after(instant_of(Jakarta, wall("2026-04-30 15:00")))
        .unwrap();
    assert_eq!(
        moved.moved_from,
        Some(Moved {
            wall: wall("2026-05-01 09:00"),
            reason: DayOff::Holiday("Hari Buruh Internasional".into())
        })
    );
    // A weekly Monday job on Hari Lahir Pancasila runs on Tuesday.
    let s = schedule("0 8 * * 1", Jakarta).with_calendar(kerja(), OnHoliday::NextWorkingDay);
    assert_eq!(
        next_local(&s, "2026-05-30 00:00", 2),
        ["2026-06-02 08:00:00 WIB", "2026-06-08 08:00:00 WIB"]
    );
}

#[test]
fn a_long_stretch_of_days_off_gives_one_run() {
    // Nyepi and Idulfitri 2026: 18 to 24 March off, back on Wednesday the 25th.
    let s = schedule("30 7 * * 1-5", Jakarta).with_calendar(kerja(), OnHoliday::NextWorkingDay);
    assert_eq!(
        next_local(&s, "2026-03-17 08:00", 2),
        ["2026-03-25 07:30:00 WIB", "2026-03-26 07:30:00 WIB"]
    );
    let f = s
        .next_after(instant_of(Jakarta, wall("2026-03-17 08:00")))
        .unwrap();
    assert_eq!(f.moved_from.unwrap().wall, wall("2026-03-18 07:30"));
    // Asked in the middle of the stretch, the moved run is still ahead.
    for from in ["2026-03-21 12:00", "2026-03-25 06:00"] {
        let f = s.next_after(instant_of(Jakarta, wall(from))).unwrap();
        assert_eq!(
            f.at,
            instant_of(Jakarta, wall("2026-03-25 07:30")),
            "{from}"
        );
        assert!(f.moved_from.is_some(), "{from}");
    }
    assert_eq!(
        next_local(&s, "2026-03-25 07:30", 1),
        ["2026-03-26 07:30:00 WIB"]
    );
    // With skip, nothing runs until the 25th's own fire.
    let s = schedule("30 7 * * 1-5", Jakarta).with_calendar(kerja(), OnHoliday::Skip);
    let o = s.upcoming(instant_of(Jakarta, wall("2026-03-17 08:00")), 1);
    assert_eq!(o.len(), 6, "{o:?}"); // 18, 19, 20, 23, 24 skipped; 25 fires
}

#[test]
fn calendar_days() {
    let c = kerja();
    assert_eq!(c.day_off(date("2026-06-15")), None);
    assert_eq!(
        c.day_off(date("2026-03-21")),
        Some(DayOff::Holiday("Idulfitri 1447 Hijriah".into()))
    );
    assert_eq!(
        c.day_off(date("2026-06-13")),
        Some(DayOff::Weekend(Weekday::Sat))
    );
    assert_eq!(
        c.next_working_day(date("2026-03-17")),
        Some(date("2026-03-25"))
    );
    assert_eq!(
        c.next_working_day(date("2026-06-12")),
        Some(date("2026-06-15"))
    );
    assert!(c.covers_year(2026) && !c.covers_year(2027));
    let never = Calendar::new(
        "x",
        &[
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ],
        BTreeMap::new(),
    );
    assert_eq!(never.next_working_day(date("2026-06-12")), None);
}

// --- missed runs -----------------------------------------------------------------

#[test]
fn missed_skip_runs_only_what_is_on_time() {
    let s = schedule("30 7 * * *", Jakarta);
    let at = |w: &str| instant_of(Jakarta, wall(w));
    let yesterday = Some(at("2026-06-14 07:30"));
    // Woken 20 s after the fire: on time.
    let c = s.catch_up(yesterday, at("2026-06-15 07:30:20"), Missed::Skip);
    assert_eq!(c.run.map(|f| f.at), Some(at("2026-06-15 07:30")));
    assert!(c.missed.is_empty());
    // Down at 07:30, up at 09:00: missed, not run.
    let c = s.catch_up(yesterday, at("2026-06-15 09:00"), Missed::Skip);
    assert_eq!(c.run, None);
    assert_eq!(
        c.missed.iter().map(|f| f.at).collect::<Vec<_>>(),
        [at("2026-06-15 07:30")]
    );
    // Already recorded: nothing.
    let c = s.catch_up(
        Some(at("2026-06-15 07:30")),
        at("2026-06-15 07:30:20"),
        Missed::Skip,
    );
    assert_eq!(c, CatchUp::default());
}

#[test]
fn missed_run_once_runs_the_latest_within_the_window_never_a_burst() {
    let s = schedule("30 7 * * *", Jakarta);
    let at = |w: &str| instant_of(Jakarta, wall(w));
    let two_hours = Missed::RunOnce {
        window: Duration::from_secs(2 * 3600),
    };
    let yesterday = Some(at("2026-06-14 07:30"));
    let c = s.catch_up(yesterday, at("2026-06-15 09:00"), two_hours);
    assert_eq!(c.run.map(|f| f.at), Some(at("2026-06-15 07:30")));
    assert!(c.missed.is_empty());
    let c = s.catch_up(yesterday, at("2026-06-15 10:00"), two_hours);
    assert_eq!(c.run, None);
    assert_eq!(c.missed.len(), 1);
    // Down for three days: only the latest runs, the two before are missed.
    let c = s.catch_up(yesterday, at("2026-06-17 08:00"), two_hours);
    assert_eq!(c.run.map(|f| f.at), Some(at("2026-06-17 07:30")));
    assert_eq!(
        c.missed.iter().map(|f| f.at).collect::<Vec<_>>(),
        [at("2026-06-15 07:30"), at("2026-06-16 07:30")]
    );
    // Never recorded: nothing counts as missed, only an on-time fire runs.
    let c = s.catch_up(None, at("2026-06-15 09:00"), two_hours);
    assert_eq!(c, CatchUp::default());
    let c = s.catch_up(None, at("2026-06-15 07:30:05"), two_hours);
    assert_eq!(c.run.map(|f| f.at), Some(at("2026-06-15 07:30")));
}

#[test]
fn many_missed_fires_are_listed_up_to_a_limit() {
    let s = schedule("* * * * *", Jakarta);
    let c = s.catch_up(
        Some(utc("2026-06-14T00:00:00Z")),
        utc("2026-06-15T00:00:30Z"),
        Missed::Skip,
    );
    assert_eq!(c.run.map(|f| f.at), Some(utc("2026-06-15T00:00:00Z")));
    assert_eq!(c.missed.len(), MISSED_LISTED);
    assert!(c.more_missed);
    assert_eq!(c.missed[0].at, utc("2026-06-14T00:01:00Z"));
}

#[test]
fn missed_runs_respect_the_calendar() {
    // The holiday's fire is not a missed fire.
    let s = schedule("30 7 * * 1-5", Jakarta).with_calendar(kerja(), OnHoliday::Skip);
    let at = |w: &str| instant_of(Jakarta, wall(w));
    let c = s.catch_up(
        Some(at("2026-06-15 07:30")),
        at("2026-06-16 08:00"),
        Missed::RunOnce {
            window: Duration::from_secs(7200),
        },
    );
    assert_eq!(c, CatchUp::default());
}

#[test]
fn daylight_saving_note_in_the_listing() {
    let s = schedule("30 2 * * *", Amsterdam);
    let o = s.upcoming(utc("2026-03-28T12:00:00Z"), 1);
    assert_eq!(
        o[0].describe(Amsterdam),
        "Sun 29/03/2026 03:00 CEST  (02:30 does not exist that day: daylight saving time starts)"
    );
}
