//! Calendars of non-working days: weekend days plus listed dates (national holidays,
//! *cuti bersama*), each with its name; and [`holiday_gaps`], which finds the
//! calendars that are about to run out of listed dates.

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};
use std::collections::BTreeMap;
use std::fmt;

use super::{instant_of, Schedule};

/// Why a day is not a working day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayOff {
    /// A listed date, with its name ("Tahun Baru Islam 1448 Hijriah").
    Holiday(String),
    /// One of the calendar's weekend days.
    Weekend(Weekday),
}

impl fmt::Display for DayOff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DayOff::Holiday(name) => write!(f, "libur: {name}"),
            DayOff::Weekend(_) => f.write_str("libur: akhir pekan"),
        }
    }
}

/// A calendar of non-working days, loaded from `config/calendars/<name>.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    name: String,
    /// Indexed by `Weekday::num_days_from_monday`.
    weekends: [bool; 7],
    days: BTreeMap<NaiveDate, String>,
}

impl Calendar {
    /// A calendar; `weekends` must leave at least one working day in the week (the
    /// config loader checks it), or no day is a working day and nothing moves.
    pub fn new(
        name: impl Into<String>,
        weekends: &[Weekday],
        days: BTreeMap<NaiveDate, String>,
    ) -> Calendar {
        let mut w = [false; 7];
        for d in weekends {
            w[d.num_days_from_monday() as usize] = true;
        }
        Calendar {
            name: name.into(),
            weekends: w,
            days,
        }
    }

    /// The calendar's name (its file name without `.toml`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The listed dates and their names.
    pub fn days(&self) -> &BTreeMap<NaiveDate, String> {
        &self.days
    }

    pub fn is_weekend(&self, day: Weekday) -> bool {
        self.weekends[day.num_days_from_monday() as usize]
    }

    /// Why `date` is not a working day, or `None` for a working day. A listed date
    /// that falls on a weekend is reported by its name.
    pub fn day_off(&self, date: NaiveDate) -> Option<DayOff> {
        if let Some(name) = self.days.get(&date) {
            return Some(DayOff::Holiday(name.clone()));
        }
        self.is_weekend(date.weekday())
            .then(|| DayOff::Weekend(date.weekday()))
    }

    /// The first working day after `date`; `None` only when every day of the week
    /// is a weekend day.
    pub fn next_working_day(&self, date: NaiveDate) -> Option<NaiveDate> {
        if self.weekends.iter().all(|w| *w) {
            return None;
        }
        let mut day = date.succ_opt()?;
        // Every stretch of days off ends: the listed dates are finite.
        for _ in 0..=self.days.len() + 7 {
            if self.day_off(day).is_none() {
                return Some(day);
            }
            day = day.succ_opt()?;
        }
        None
    }

    /// Whether the calendar lists any date in `year` (a calendar that does not is
    /// probably out of date for that year).
    pub fn covers_year(&self, year: i32) -> bool {
        let (Some(first), Some(last)) = (
            NaiveDate::from_ymd_opt(year, 1, 1),
            NaiveDate::from_ymd_opt(year, 12, 31),
        ) else {
            return false;
        };
        self.days.range(first..=last).next().is_some()
    }

    /// The last year in which the calendar lists any date; `None` for a calendar of
    /// weekend days only.
    pub fn last_listed_year(&self) -> Option<i32> {
        self.days.keys().next_back().map(|d| d.year())
    }
}

/// How many days before the end of the last year a calendar lists [`holiday_gaps`]
/// starts to warn.
pub const GAP_WARNING_DAYS: u64 = 60;

/// A calendar that enabled schedules use and that lists no date for a year which
/// has begun, or begins within [`GAP_WARNING_DAYS`]: in that year its schedules skip
/// weekends only, and run on the holidays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolidayGap {
    /// The calendar's name.
    pub calendar: String,
    /// The last year in which the calendar lists any date.
    pub last_listed: i32,
    /// The years after `last_listed` up to the one the warning period reaches, oldest
    /// first (one year, unless the calendar is already out of date).
    pub missing: Vec<i32>,
    /// Each schedule that uses the calendar, with the first day it fires in the
    /// missing years (from today on), in the order the schedules were given.
    pub schedules: Vec<(String, NaiveDate)>,
    /// Whether `today` is already past the last listed year.
    pub overdue: bool,
}

/// The calendars of `schedules` (give only the enabled ones) that lack the holidays
/// of a year which has begun or begins within [`GAP_WARNING_DAYS`] of `today`, by
/// calendar name. A calendar that lists no date at all (weekend days only) is taken
/// as meant that way; a schedule that does not fire in the missing years is left
/// out, and a calendar with no such schedule has no gap. Pure: `today` is the
/// caller's local date.
pub fn holiday_gaps<'a>(
    schedules: impl IntoIterator<Item = (&'a str, &'a Schedule)>,
    today: NaiveDate,
) -> Vec<HolidayGap> {
    let Some(horizon) = today.checked_add_days(chrono::Days::new(GAP_WARNING_DAYS + 1)) else {
        return Vec::new();
    };
    // The schedules of each calendar, by the calendar's name.
    let mut by_calendar: BTreeMap<&str, Vec<(&str, &Schedule)>> = BTreeMap::new();
    for (name, schedule) in schedules {
        if let Some(cal) = &schedule.calendar {
            by_calendar
                .entry(cal.name())
                .or_default()
                .push((name, schedule));
        }
    }
    let mut gaps = Vec::new();
    for (name, uses) in by_calendar {
        let Some(last) = uses
            .first()
            .and_then(|(_, s)| s.calendar.as_ref())
            .and_then(|cal| cal.last_listed_year())
        else {
            continue;
        };
        if last >= horizon.year() {
            continue;
        }
        let Some(first_missing) = NaiveDate::from_ymd_opt(last + 1, 1, 1) else {
            continue;
        };
        let from = first_missing.max(today).and_time(NaiveTime::MIN);
        let fires: Vec<(String, NaiveDate)> = uses
            .into_iter()
            .filter_map(|(schedule_name, s)| {
                let after = instant_of(s.zone, from) - chrono::Duration::seconds(1);
                let fire = s.next_after(after)?;
                let day = s.local(fire.at).date_naive();
                (day.year() <= horizon.year()).then(|| (schedule_name.to_string(), day))
            })
            .collect();
        if fires.is_empty() {
            continue;
        }
        gaps.push(HolidayGap {
            calendar: name.to_string(),
            last_listed: last,
            missing: (last + 1..=horizon.year()).collect(),
            schedules: fires,
            overdue: today.year() > last,
        });
    }
    gaps
}

impl HolidayGap {
    /// The missing years for people: `2027`, `2026 and 2027`.
    pub fn years(&self) -> String {
        let words: Vec<String> = self.missing.iter().map(i32::to_string).collect();
        match words.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => words.join(""),
        }
    }

    /// The warning, in one line, for `file` (the calendar file as people know it):
    /// `config/calendars/id-kerja.toml: calendar "id-kerja" lists no holidays for
    /// 2027; schedule "izin-pagi" would run on 1 January 2027 — add the 2027
    /// holidays (…) before 31 December 2026`.
    pub fn message(&self, file: &str) -> String {
        let years = self.years();
        let runs: Vec<String> = self
            .schedules
            .iter()
            .enumerate()
            .map(|(i, (name, day))| {
                let day = day.format("%-d %B %Y");
                if i == 0 {
                    format!("schedule \"{name}\" would run on {day}")
                } else {
                    format!("schedule \"{name}\" on {day}")
                }
            })
            .collect();
        let when = if self.overdue {
            "now".to_string()
        } else {
            format!("before 31 December {}", self.last_listed)
        };
        format!(
            "{file}: calendar \"{}\" lists no holidays for {years}; {} — add the {years} holidays (national holidays and cuti bersama, from the SKB 3 Menteri) {when}",
            self.calendar,
            runs.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono_tz::Asia::Jakarta;

    use super::super::OnHoliday;
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn calendar(name: &str, days: &[&str]) -> Arc<Calendar> {
        let days = days
            .iter()
            .map(|d| (date(d), format!("libur {d}")))
            .collect();
        Arc::new(Calendar::new(name, &[Weekday::Sat, Weekday::Sun], days))
    }

    fn schedule(cron: &str, cal: &Arc<Calendar>, on_holiday: OnHoliday) -> Schedule {
        Schedule::new(cron.parse().unwrap(), Jakarta).with_calendar(cal.clone(), on_holiday)
    }

    const Y2026: &[&str] = &["2026-01-01", "2026-05-01", "2026-12-25"];

    #[test]
    fn within_60_days_of_the_last_listed_year_the_next_year_is_missing() {
        let cal = calendar("id-kerja", Y2026);
        let pagi = schedule("30 7 * * 1-5", &cal, OnHoliday::Skip);
        let bulanan = schedule("0 0 8 1 * *", &cal, OnHoliday::NextWorkingDay);
        let gaps = holiday_gaps(
            [("izin-pagi", &pagi), ("rekap", &bulanan)],
            date("2026-11-29"),
        );
        assert_eq!(
            gaps,
            vec![HolidayGap {
                calendar: "id-kerja".into(),
                last_listed: 2026,
                missing: vec![2027],
                schedules: vec![
                    ("izin-pagi".into(), date("2027-01-01")),
                    ("rekap".into(), date("2027-01-01")),
                ],
                overdue: false,
            }]
        );
        assert_eq!(
            gaps[0].message("config/calendars/id-kerja.toml"),
            "config/calendars/id-kerja.toml: calendar \"id-kerja\" lists no holidays for 2027; \
             schedule \"izin-pagi\" would run on 1 January 2027, schedule \"rekap\" on 1 January 2027 \
             — add the 2027 holidays (national holidays and cuti bersama, from the SKB 3 Menteri) \
             before 31 December 2026"
        );
    }

    #[test]
    fn the_warning_starts_60_days_before_the_end_of_the_year() {
        let cal = calendar("id-kerja", Y2026);
        let pagi = schedule("30 7 * * 1-5", &cal, OnHoliday::Skip);
        // 31 December is 60 days after 1 November, 61 after 31 October.
        assert_eq!(holiday_gaps([("p", &pagi)], date("2026-11-01")).len(), 1);
        assert!(holiday_gaps([("p", &pagi)], date("2026-10-31")).is_empty());
        assert!(holiday_gaps([("p", &pagi)], date("2026-06-15")).is_empty());
    }

    #[test]
    fn a_calendar_with_the_next_year_has_no_gap() {
        let cal = calendar("id-kerja", &["2026-01-01", "2027-01-01", "2027-03-10"]);
        let pagi = schedule("30 7 * * 1-5", &cal, OnHoliday::Skip);
        assert!(holiday_gaps([("p", &pagi)], date("2026-11-29")).is_empty());
        assert!(holiday_gaps([("p", &pagi)], date("2026-12-31")).is_empty());
        // …until the end of 2027 comes near.
        assert_eq!(
            holiday_gaps([("p", &pagi)], date("2027-11-15"))[0].missing,
            vec![2028]
        );
    }

    #[test]
    fn a_calendar_no_schedule_uses_has_no_gap() {
        let plain = Schedule::new("30 7 * * 1-5".parse().unwrap(), Jakarta);
        assert!(holiday_gaps([("p", &plain)], date("2026-11-29")).is_empty());
        assert!(holiday_gaps(std::iter::empty(), date("2026-11-29")).is_empty());
    }

    #[test]
    fn a_calendar_of_weekends_only_has_no_gap() {
        let cal = calendar("akhir-pekan", &[]);
        let pagi = schedule("30 7 * * 1-5", &cal, OnHoliday::Skip);
        assert!(holiday_gaps([("p", &pagi)], date("2026-11-29")).is_empty());
    }

    #[test]
    fn an_out_of_date_calendar_lists_every_missing_year_and_says_now() {
        let cal = calendar("lama", &["2025-01-01", "2025-12-25"]);
        let pagi = schedule("30 7 * * 1-5", &cal, OnHoliday::Skip);
        let gaps = holiday_gaps([("izin-pagi", &pagi)], date("2026-11-29"));
        assert_eq!(gaps.len(), 1);
        let gap = &gaps[0];
        assert_eq!(gap.missing, vec![2026, 2027]);
        assert!(gap.overdue);
        // 29 November 2026 is a Sunday: the next fire is on Monday.
        assert_eq!(
            gap.schedules,
            vec![("izin-pagi".into(), date("2026-11-30"))]
        );
        let message = gap.message("lama.toml");
        assert!(
            message.contains("lists no holidays for 2026 and 2027;"),
            "{message}"
        );
        assert!(
            message.ends_with("add the 2026 and 2027 holidays (national holidays and cuti bersama, from the SKB 3 Menteri) now"),
            "{message}"
        );
    }

    #[test]
    fn a_schedule_that_does_not_fire_in_the_missing_year_is_left_out() {
        let cal = calendar("id-kerja", Y2026);
        // Fires only on 1 March: listed with its first day in 2027.
        let maret = schedule("0 8 1 3 *", &cal, OnHoliday::Skip);
        let gaps = holiday_gaps([("maret", &maret)], date("2026-11-29"));
        assert_eq!(
            gaps[0].schedules,
            vec![("maret".into(), date("2027-03-01"))]
        );
        // Fires only in 2030 (a cron year): nothing to warn about in 2027.
        let later = schedule("0 0 8 1 3 * 2030", &cal, OnHoliday::Skip);
        assert!(holiday_gaps([("later", &later)], date("2026-11-29")).is_empty());
    }
}
