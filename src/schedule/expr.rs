//! Cron expressions: crontab's five fields, or six and seven with seconds first and a
//! year last, checked field by field and handed to the `cron` crate as explicit lists.
//!
//! juru reads every form with crontab's numbering: day of week `0` and `7` are Sunday,
//! `1` Monday … `6` Saturday (the `cron` crate counts `1` = Sunday … `7` = Saturday;
//! the translation happens here, once). As in crontab, when both day fields are
//! restricted (neither starts with `*` or `?`), a day matches when *either* matches.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc, Weekday};

/// One field of a cron expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
            Field::Year => "year",
        }
    }

    /// The values the field accepts, inclusive.
    fn range(self) -> (u32, u32) {
        match self {
            Field::Second | Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
            Field::Year => (1970, 2100),
        }
    }

    fn value_of_name(self, name: &str) -> Option<u32> {
        const MONTHS: [&str; 12] = [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ];
        const DAYS: [(&str, &str); 7] = [
            ("sun", "sunday"),
            ("mon", "monday"),
            ("tue", "tuesday"),
            ("wed", "wednesday"),
            ("thu", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
        ];
        let name = name.to_ascii_lowercase();
        match self {
            Field::Month => MONTHS.iter().position(|m| *m == name).map(|i| i as u32 + 1),
            Field::DayOfWeek => DAYS
                .iter()
                .position(|(short, long)| *short == name || *long == name)
                .map(|i| i as u32),
            _ => None,
        }
    }

    fn names_hint(self) -> &'static str {
        match self {
            Field::Month => " or a month name (jan-dec)",
            Field::DayOfWeek => " or a day name (sun-sat)",
            _ => "",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an expression was refused; the message names the field and what it expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("\"{expr}\" has {count} field{}, expected 5 (minute hour day-of-month month day-of-week), 6 (a second field first) or 7 (and a year last)", if *.count == 1 { "" } else { "s" })]
    FieldCount { expr: String, count: usize },
    #[error("the {field} field \"{text}\" (field {position} of {count}) {reason}")]
    Field {
        field: Field,
        text: String,
        position: usize,
        count: usize,
        reason: String,
    },
    #[error("\"{expr}\" matches no date at all (for example the 30th of February)")]
    Never { expr: String },
    #[error("\"{expr}\" cannot be used: {message}")]
    Other { expr: String, message: String },
}

/// One parsed field: the values it selects (crontab numbering) and whether it was
/// written as "any" (starting with `*` or `?`).
#[derive(Debug, Clone)]
struct Parsed {
    values: BTreeSet<u32>,
    star: bool,
}

/// A checked cron expression.
#[derive(Debug, Clone)]
pub struct Cron {
    source: String,
    /// One schedule, or two whose union is meant (day of month OR day of week).
    parts: Vec<cron::Schedule>,
    has_seconds: bool,
    /// The days of the week it can fire on, Monday first.
    weekdays: Vec<Weekday>,
}

impl Cron {
    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether it fires at other seconds than `:00`.
    pub fn has_seconds(&self) -> bool {
        self.has_seconds
    }

    /// The days of the week it can fire on (all seven unless the day-of-week field
    /// limits them).
    pub fn weekdays(&self) -> &[Weekday] {
        &self.weekdays
    }

    /// The wall-clock times it names strictly after `after`, in order.
    pub(crate) fn wall_times(&self, after: NaiveDateTime) -> WallTimes {
        WallTimes::new(self.parts.clone(), after)
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for Cron {
    type Err = CronError;

    fn from_str(expr: &str) -> Result<Cron, CronError> {
        let mut cron = parse(shorthand(expr.trim()).unwrap_or(expr))?;
        cron.source = expr.trim().to_string();
        Ok(cron)
    }
}

/// crontab's `@daily` and friends as five fields; `None` for anything else.
fn shorthand(expr: &str) -> Option<&'static str> {
    Some(match expr.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => return None,
    })
}

fn parse(expr: &str) -> Result<Cron, CronError> {
    if let Some(word) = expr.trim().strip_prefix('@') {
        return Err(CronError::Other {
            expr: expr.trim().to_string(),
            message: format!("`@{word}` is not one of @yearly, @monthly, @weekly, @daily, @hourly"),
        });
    }
    let words: Vec<&str> = expr.split_whitespace().collect();
    let count = words.len();
    let fields: &[Field] = match count {
        5 => &[
            Field::Minute,
            Field::Hour,
            Field::DayOfMonth,
            Field::Month,
            Field::DayOfWeek,
        ],
        6 => &[
            Field::Second,
            Field::Minute,
            Field::Hour,
            Field::DayOfMonth,
            Field::Month,
            Field::DayOfWeek,
        ],
        7 => &[
            Field::Second,
            Field::Minute,
            Field::Hour,
            Field::DayOfMonth,
            Field::Month,
            Field::DayOfWeek,
            Field::Year,
        ],
        _ => {
            return Err(CronError::FieldCount {
                expr: expr.trim().to_string(),
                count,
            })
        }
    };
    let mut parsed = Vec::with_capacity(7);
    for (i, (&field, text)) in fields.iter().zip(&words).enumerate() {
        let p = parse_field(field, text).map_err(|reason| CronError::Field {
            field,
            text: text.to_string(),
            position: i + 1,
            count,
            reason,
        })?;
        parsed.push((field, p));
    }
    let get = |f: Field| parsed.iter().find(|(g, _)| *g == f).map(|(_, p)| p);
    let zero = Parsed {
        values: BTreeSet::from([0]),
        star: false,
    };
    let second = get(Field::Second).unwrap_or(&zero);
    let minute = get(Field::Minute).unwrap_or(&zero);
    let hour = get(Field::Hour).unwrap_or(&zero);
    let any = |f: Field| Parsed {
        values: (f.range().0..=f.range().1).collect(),
        star: true,
    };
    let dom = get(Field::DayOfMonth)
        .cloned()
        .unwrap_or(any(Field::DayOfMonth));
    let month = get(Field::Month).cloned().unwrap_or(any(Field::Month));
    let dow = get(Field::DayOfWeek)
        .cloned()
        .unwrap_or(any(Field::DayOfWeek));
    let year = get(Field::Year).cloned().unwrap_or(any(Field::Year));

    let head = format!(
        "{} {} {}",
        list(Field::Second, second),
        list(Field::Minute, minute),
        list(Field::Hour, hour)
    );
    let (months, years) = (list(Field::Month, &month), list(Field::Year, &year));
    let day_sets: Vec<(String, String)> = if !dom.star && !dow.star {
        vec![
            (list(Field::DayOfMonth, &dom), "*".to_string()),
            ("*".to_string(), list(Field::DayOfWeek, &dow)),
        ]
    } else {
        vec![(list(Field::DayOfMonth, &dom), list(Field::DayOfWeek, &dow))]
    };
    let mut parts = Vec::new();
    for (d, w) in day_sets {
        let text = format!("{head} {d} {months} {w} {years}");
        let schedule = text
            .parse::<cron::Schedule>()
            .map_err(|e| CronError::Other {
                expr: expr.trim().to_string(),
                message: e.to_string().lines().last().unwrap_or_default().to_string(),
            })?;
        parts.push(schedule);
    }

    // Both day fields restricted: any weekday can come from the day of month.
    let mut weekdays: Vec<Weekday> = if dom.star || dow.star {
        dow.values.iter().map(|v| weekday_of(*v % 7)).collect()
    } else {
        (0..7).map(weekday_of).collect()
    };
    weekdays.sort_by_key(|d| d.num_days_from_monday());
    weekdays.dedup();
    let cron = Cron {
        source: expr.trim().to_string(),
        parts,
        has_seconds: second.values.iter().any(|s| *s != 0),
        weekdays,
    };
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    if cron.wall_times(epoch).next().is_none() {
        return Err(CronError::Never {
            expr: cron.source.clone(),
        });
    }
    Ok(cron)
}

/// crontab day number (0 = Sunday … 6 = Saturday) to chrono's weekday.
fn weekday_of(v: u32) -> Weekday {
    match v {
        1 => Weekday::Mon,
        2 => Weekday::Tue,
        3 => Weekday::Wed,
        4 => Weekday::Thu,
        5 => Weekday::Fri,
        6 => Weekday::Sat,
        _ => Weekday::Sun,
    }
}

/// The field as the `cron` crate reads it: `*` or an explicit list in its numbering.
fn list(field: Field, p: &Parsed) -> String {
    let values: BTreeSet<u32> = match field {
        // crontab 0..=7 (0 and 7 Sunday) -> cron crate 1 (Sunday) ..= 7 (Saturday)
        Field::DayOfWeek => p.values.iter().map(|v| v % 7 + 1).collect(),
        _ => p.values.clone(),
    };
    let (lo, hi) = match field {
        Field::DayOfWeek => (1, 7),
        f => f.range(),
    };
    if values.len() as u32 == hi - lo + 1 {
        return "*".to_string();
    }
    values
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses one field into its values; the error is the end of a sentence ("is …").
fn parse_field(field: Field, text: &str) -> Result<Parsed, String> {
    let (lo, hi) = field.range();
    let star = text.starts_with('*') || text.starts_with('?');
    let mut values = BTreeSet::new();
    for item in text.split(',') {
        if item.is_empty() {
            return Err("has an empty item in its list (two commas, or a comma at an end)".into());
        }
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => {
                let step: u32 = s.parse().map_err(|_| {
                    format!("has the step \"{s}\" after `/`, which is not a whole number")
                })?;
                if step == 0 {
                    return Err("has a step of 0 after `/`; a step must be 1 or more".into());
                }
                (b, Some(step))
            }
            None => (item, None),
        };
        let (from, to) = if base == "*" || base == "?" {
            if base == "?" && !matches!(field, Field::DayOfMonth | Field::DayOfWeek) {
                return Err(
                    "uses `?`, which only the day-of-month and day-of-week fields accept".into(),
                );
            }
            let hi = if field == Field::DayOfWeek { 6 } else { hi };
            (lo, hi)
        } else if let Some((a, b)) = base.split_once('-') {
            let a = value(field, a)?;
            let b = value(field, b)?;
            if a > b {
                return Err(format!(
                    "has the range {base}, which runs backwards; write it as two pieces, e.g. {base_a}-{hi},{lo}-{base_b}",
                    base_a = base.split_once('-').map_or("", |x| x.0),
                    base_b = base.split_once('-').map_or("", |x| x.1),
                    hi = if field == Field::DayOfWeek { 6 } else { hi },
                ));
            }
            (a, b)
        } else {
            let a = value(field, base)?;
            match step {
                // `5/15`: from 5 to the end of the range, every 15
                Some(_) => (a, hi),
                None => (a, a),
            }
        };
        let step = step.unwrap_or(1);
        values.extend((from..=to).step_by(step as usize));
    }
    if field == Field::DayOfWeek && values.remove(&7) {
        values.insert(0);
    }
    Ok(Parsed { values, star })
}

/// One value of a field: a number in range, or a month or day name.
fn value(field: Field, text: &str) -> Result<u32, String> {
    let (lo, hi) = field.range();
    if text.is_empty() {
        return Err("has a range with a missing end".into());
    }
    if let Ok(n) = text.parse::<u32>() {
        if n < lo || n > hi {
            let extra = if field == Field::DayOfWeek {
                " (0 and 7 are Sunday, 1 Monday, 6 Saturday)"
            } else {
                ""
            };
            return Err(format!("has {n}, outside {lo}-{hi}{extra}"));
        }
        return Ok(n);
    }
    if let Some(n) = field.value_of_name(text) {
        return Ok(n);
    }
    let special = |c: char| matches!(c, 'L' | 'W' | '#' | 'l' | 'w');
    if text.contains(special) && text.chars().all(|c| c.is_ascii_digit() || special(c)) {
        return Err(format!(
            "has \"{text}\": the special forms L, W and # are not supported; list the days instead"
        ));
    }
    Err(format!(
        "has \"{text}\", expected a number {lo}-{hi}{}",
        field.names_hint()
    ))
}

/// Wall-clock times (no zone yet) named by the expression, in order: the union of its
/// parts, each time once. Iterates the `cron` crate in UTC, which has no daylight
/// saving, so every wall-clock time exists exactly once.
pub(crate) struct WallTimes {
    iters: Vec<(cron::OwnedScheduleIterator<Utc>, Option<NaiveDateTime>)>,
    parts: Vec<cron::Schedule>,
}

impl WallTimes {
    fn new(parts: Vec<cron::Schedule>, after: NaiveDateTime) -> WallTimes {
        let mut w = WallTimes {
            iters: Vec::new(),
            parts,
        };
        w.restart(after);
        w
    }

    /// Continues strictly after `after`, forgetting anything looked at.
    pub(crate) fn restart(&mut self, after: NaiveDateTime) {
        let start = DateTime::<Utc>::from_naive_utc_and_offset(after, Utc);
        self.iters = self
            .parts
            .iter()
            .map(|p| {
                let mut it = p.after_owned(start);
                let first = it.next().map(|t| t.naive_utc());
                (it, first)
            })
            .collect();
    }

    pub(crate) fn peek(&self) -> Option<NaiveDateTime> {
        self.iters.iter().filter_map(|(_, head)| *head).min()
    }
}

impl Iterator for WallTimes {
    type Item = NaiveDateTime;

    fn next(&mut self) -> Option<NaiveDateTime> {
        let next = self.peek()?;
        for (it, head) in &mut self.iters {
            if *head == Some(next) {
                *head = it.next().map(|t| t.naive_utc());
            }
        }
        Some(next)
    }
}
