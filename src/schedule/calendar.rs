//! Calendars of non-working days: weekend days plus listed dates (national holidays,
//! *cuti bersama*), each with its name.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Datelike, NaiveDate, Weekday};

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
}
