//! When schedules fire: cron expressions in an explicit IANA time zone, around a
//! calendar of non-working days, with a policy for fires missed while the agent was
//! down.
//!
//! This is a capability module: pure, synchronous functions that know nothing of
//! bots, runs, the store or the agent. Times go in and come out as UTC instants
//! ([`Fire::at`], the key a fire is recorded under); [`Schedule::local`] and
//! [`format_local`] give the local time people read.
//!
//! # How a fire time is computed
//!
//! 1. The [`Cron`] expression names wall-clock times (crontab's 5 fields, or 6 and
//!    7 with seconds and a year; day of week `0`/`7` = Sunday in every form).
//! 2. The [`Calendar`], if any, drops each fire on a non-working day
//!    ([`OnHoliday::Skip`]) or moves the first fire of a stretch of non-working days
//!    to the same wall-clock time on the next working day
//!    ([`OnHoliday::NextWorkingDay`]): one run for the whole stretch, never one per
//!    missed day; if the schedule fires at that same time that day anyway, it is
//!    one run, not two. Other fires of that day still run.
//! 3. Each wall-clock time is mapped through the zone by [`instant_of`]: a time in
//!    the spring-forward gap fires at the first instant after it (02:30 → 03:00), a
//!    time in the fall-back overlap fires at its first occurrence only; fires that
//!    land on the same instant are one fire.
//!
//! # Missed fires
//!
//! [`Schedule::catch_up`] decides, from the last recorded fire and now, the one fire
//! to run now (if any): one due within [`ON_TIME`] always runs; an older missed one
//! only with [`Missed::RunOnce`] inside its window, and then only the latest. Never
//! a burst.
//!
//! # Errors
//!
//! Only parsing can fail: [`CronError`] names the field that is wrong and why.

mod calendar;
mod expr;
mod zone;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;

pub use calendar::{holiday_gaps, Calendar, DayOff, HolidayGap, GAP_WARNING_DAYS};
pub use expr::{Cron, CronError, Field};
pub use zone::instant_of;

use expr::WallTimes;

/// What a calendar does with a fire on a non-working day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnHoliday {
    /// Drop it (the default).
    #[default]
    Skip,
    /// Run the first fire of a stretch of non-working days once, at the same
    /// wall-clock time on the next working day.
    NextWorkingDay,
}

/// What to do with fires that passed while the agent was not running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Missed {
    /// Do not run them (the default).
    #[default]
    Skip,
    /// Run the latest missed fire once, if it is at most `window` old.
    RunOnce { window: Duration },
}

/// What to do when a schedule fires while its previous run still goes on (used by
/// the agent; the schedule itself does not know about runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overlap {
    /// Do not start a second run; the fire is recorded as skipped (the default).
    #[default]
    Skip,
    /// Start it as soon as the previous run ends (one waiting run at most).
    Queue,
}

/// A fire due this late is still on time and runs whatever the [`Missed`] policy.
pub const ON_TIME: Duration = Duration::from_secs(60);

/// How many missed fires [`CatchUp::missed`] lists at most.
pub const MISSED_LISTED: usize = 100;

/// A cron expression in a time zone around an optional calendar.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub cron: Cron,
    pub zone: Tz,
    pub calendar: Option<Arc<Calendar>>,
    pub on_holiday: OnHoliday,
}

/// A fire time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    /// When to fire; the key to record it under.
    pub at: DateTime<Utc>,
    /// The wall-clock time the schedule named (before a daylight-saving gap moved it).
    pub wall: NaiveDateTime,
    /// Set when the calendar moved this fire here from a non-working day.
    pub moved_from: Option<Moved>,
}

/// Where a moved fire came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub wall: NaiveDateTime,
    pub reason: DayOff,
}

/// What happens at one point of a schedule: a fire, or a day the calendar skips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Occurrence {
    Fire(Fire),
    /// The first fire of a non-working day, and with it every other fire that day.
    Skipped {
        wall: NaiveDateTime,
        at: DateTime<Utc>,
        reason: DayOff,
        /// The working day its run moved to ([`OnHoliday::NextWorkingDay`]).
        moved_to: Option<NaiveDate>,
    },
}

/// The decision of [`Schedule::catch_up`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CatchUp {
    /// The one fire to run now, if any.
    pub run: Option<Fire>,
    /// Fires after the last recorded one, up to now, that will not run (oldest
    /// first, at most [`MISSED_LISTED`]).
    pub missed: Vec<Fire>,
    /// More fires were missed than `missed` lists.
    pub more_missed: bool,
}

impl Schedule {
    /// A schedule without a calendar.
    pub fn new(cron: Cron, zone: Tz) -> Schedule {
        Schedule {
            cron,
            zone,
            calendar: None,
            on_holiday: OnHoliday::Skip,
        }
    }

    /// With a calendar of non-working days.
    pub fn with_calendar(mut self, calendar: Arc<Calendar>, on_holiday: OnHoliday) -> Schedule {
        self.calendar = Some(calendar);
        self.on_holiday = on_holiday;
        self
    }

    /// The first fire strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<Fire> {
        self.fires_after(after).next()
    }

    /// Every fire strictly after `after`, in order (until the year 2100).
    pub fn fires_after(&self, after: DateTime<Utc>) -> impl Iterator<Item = Fire> + '_ {
        self.occurrences_after(after).filter_map(|o| match o {
            Occurrence::Fire(f) => Some(f),
            Occurrence::Skipped { .. } => None,
        })
    }

    /// Fires and skipped days strictly after `after`, in order.
    pub fn occurrences_after(&self, after: DateTime<Utc>) -> Occurrences<'_> {
        let local = after
            .with_timezone(&self.zone)
            .naive_local()
            .with_nanosecond(0)
            .unwrap_or_default();
        // A stretch of days off that ends after `after` may have moved a fire past
        // it: start reading at the beginning of that stretch.
        let mut start = local;
        if let (Some(cal), OnHoliday::NextWorkingDay) = (&self.calendar, self.on_holiday) {
            let mut day = local.date();
            for _ in 0..=cal.days().len() + 7 {
                match day.pred_opt() {
                    Some(prev) if cal.day_off(prev).is_some() => day = prev,
                    _ => break,
                }
            }
            if day < local.date() {
                start = day.and_time(chrono::NaiveTime::MIN) - chrono::Duration::seconds(1);
            }
        }
        Occurrences {
            schedule: self,
            wall: self.cron.wall_times(start),
            after,
            pending: None,
            stretch_target: None,
            last_at: None,
        }
    }

    /// The next `fires` fire times after `after`, with the days the calendar skips
    /// in between (at most 60 of those, so a schedule that only ever skips ends).
    pub fn upcoming(&self, after: DateTime<Utc>, fires: usize) -> Vec<Occurrence> {
        let mut out = Vec::new();
        let (mut n, mut skipped) = (0, 0);
        for o in self.occurrences_after(after) {
            match &o {
                Occurrence::Fire(_) => n += 1,
                Occurrence::Skipped { .. } => skipped += 1,
            }
            out.push(o);
            if n >= fires || skipped >= 60 {
                break;
            }
        }
        out
    }

    /// Which fire to run now, given the last fire recorded for this schedule (`None`
    /// when it never fired) and the missed-run policy: at most one, the latest due.
    /// A fire at most [`ON_TIME`] old runs whatever the policy; an older one only
    /// with [`Missed::RunOnce`] when it is at most `window` old. Without a recorded
    /// fire nothing counts as missed.
    pub fn catch_up(
        &self,
        last: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        policy: Missed,
    ) -> CatchUp {
        let lookback = match policy {
            Missed::Skip => ON_TIME,
            Missed::RunOnce { window } => window.max(ON_TIME),
        };
        let ago = |d: Duration| {
            chrono::Duration::from_std(d)
                .ok()
                .and_then(|d| now.checked_sub_signed(d))
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        };
        let since = match last {
            None => ago(ON_TIME),
            Some(l) => l.max(ago(lookback)),
        };
        let run = self.fires_after(since).take_while(|f| f.at <= now).last();
        let Some(last) = last else {
            return CatchUp {
                run,
                ..CatchUp::default()
            };
        };
        let mut missed: Vec<Fire> = self
            .fires_after(last)
            .take_while(|f| f.at <= now)
            .filter(|f| Some(f.at) != run.as_ref().map(|r| r.at))
            .take(MISSED_LISTED + 1)
            .collect();
        let more_missed = missed.len() > MISSED_LISTED;
        missed.truncate(MISSED_LISTED);
        CatchUp {
            run,
            missed,
            more_missed,
        }
    }

    /// An instant in this schedule's zone.
    pub fn local(&self, at: DateTime<Utc>) -> DateTime<Tz> {
        at.with_timezone(&self.zone)
    }
}

/// A moved fire waiting for its place in the order.
struct Pending {
    wall: NaiveDateTime,
    moved: Moved,
}

/// The iterator of [`Schedule::occurrences_after`].
pub struct Occurrences<'a> {
    schedule: &'a Schedule,
    wall: WallTimes,
    after: DateTime<Utc>,
    pending: Option<Pending>,
    /// The working day the current stretch of days off moved its run to.
    stretch_target: Option<NaiveDate>,
    last_at: Option<DateTime<Utc>>,
}

/// An occurrence in wall-clock time, before the zone.
enum Wall {
    Fire {
        wall: NaiveDateTime,
        moved_from: Option<Moved>,
    },
    Skipped {
        wall: NaiveDateTime,
        reason: DayOff,
        moved_to: Option<NaiveDate>,
    },
}

impl Occurrences<'_> {
    /// The next occurrence in wall-clock time: the calendar applied.
    fn next_wall(&mut self) -> Option<Wall> {
        let peek = self.wall.peek();
        if let Some(p) = &self.pending {
            if peek.is_none_or(|r| r >= p.wall) {
                let p = self.pending.take()?;
                if peek == Some(p.wall) {
                    // The schedule fires then anyway: one run.
                    self.wall.next();
                }
                return Some(Wall::Fire {
                    wall: p.wall,
                    moved_from: Some(p.moved),
                });
            }
        }
        let raw = self.wall.next()?;
        let Some(cal) = &self.schedule.calendar else {
            return Some(Wall::Fire {
                wall: raw,
                moved_from: None,
            });
        };
        let date = raw.date();
        let Some(reason) = cal.day_off(date) else {
            return Some(Wall::Fire {
                wall: raw,
                moved_from: None,
            });
        };
        // The rest of this day is off as well.
        let end_of_day = date
            .succ_opt()
            .map(|d| d.and_time(chrono::NaiveTime::MIN) - chrono::Duration::seconds(1));
        if let Some(end) = end_of_day {
            self.wall.restart(end);
        }
        let target = match self.schedule.on_holiday {
            OnHoliday::Skip => None,
            OnHoliday::NextWorkingDay => cal.next_working_day(date),
        };
        let moved_to = match target {
            Some(t) if self.stretch_target != Some(t) => {
                self.stretch_target = Some(t);
                self.pending = Some(Pending {
                    wall: t.and_time(raw.time()),
                    moved: Moved {
                        wall: raw,
                        reason: reason.clone(),
                    },
                });
                Some(t)
            }
            _ => None,
        };
        Some(Wall::Skipped {
            wall: raw,
            reason,
            moved_to,
        })
    }
}

impl Iterator for Occurrences<'_> {
    type Item = Occurrence;

    fn next(&mut self) -> Option<Occurrence> {
        let zone = self.schedule.zone;
        loop {
            match self.next_wall()? {
                Wall::Fire { wall, moved_from } => {
                    let at = instant_of(zone, wall);
                    if at <= self.after || self.last_at.is_some_and(|l| at <= l) {
                        continue;
                    }
                    self.last_at = Some(at);
                    return Some(Occurrence::Fire(Fire {
                        at,
                        wall,
                        moved_from,
                    }));
                }
                Wall::Skipped {
                    wall,
                    reason,
                    moved_to,
                } => {
                    let at = instant_of(zone, wall);
                    if at <= self.after {
                        continue;
                    }
                    return Some(Occurrence::Skipped {
                        wall,
                        at,
                        reason,
                        moved_to,
                    });
                }
            }
        }
    }
}

/// `Mon 15/06/2026 07:30 WIB` (with seconds when they are not `:00`).
pub fn format_local(t: DateTime<Tz>) -> String {
    if t.second() == 0 {
        t.format("%a %d/%m/%Y %H:%M %Z").to_string()
    } else {
        t.format("%a %d/%m/%Y %H:%M:%S %Z").to_string()
    }
}

/// `Fri 01/05/2026`.
pub fn format_date(d: NaiveDate) -> String {
    d.format("%a %d/%m/%Y").to_string()
}

impl Occurrence {
    /// One line for people: the local time and, when it is not a plain fire, what
    /// the calendar or daylight saving did.
    pub fn describe(&self, zone: Tz) -> String {
        match self {
            Occurrence::Fire(f) => {
                let local = f.at.with_timezone(&zone);
                let mut line = format_local(local);
                if local.naive_local() != f.wall {
                    line.push_str(&format!(
                        "  ({} does not exist that day: daylight saving time starts)",
                        f.wall.format("%H:%M")
                    ));
                }
                if let Some(m) = &f.moved_from {
                    line.push_str(&format!(
                        "  moved from {} ({})",
                        format_date(m.wall.date()),
                        m.reason
                    ));
                }
                line
            }
            Occurrence::Skipped {
                at,
                reason,
                moved_to,
                ..
            } => {
                let mut line = format!(
                    "{}  skipped ({reason})",
                    format_local(at.with_timezone(&zone))
                );
                if let Some(d) = moved_to {
                    line.push_str(&format!(", moved to {}", format_date(*d)));
                }
                line
            }
        }
    }
}
