//! `config/schedules.toml` (which bot runs when) and `config/calendars/<name>.toml`
//! (the non-working days schedules run around).
//!
//! Same rules as agent.toml: parse into serde structs that deny unknown keys, then
//! one validation pass that collects every problem as `file:line:col: key.path:
//! message`. A missing schedules.toml means no schedules; a missing calendars folder
//! means no calendars. Cron expressions and time zones are parsed here, once, into
//! [`schedule::Schedule`]s. Synchronous and cheap.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use super::{parse_all_as, parse_duration, Located};
use crate::schedule::{Calendar, Cron, Missed, OnHoliday, Overlap, Schedule};
use crate::Problems;

/// Input workbooks a schedule may name (the extensions juru reads).
const WORKBOOK_EXTENSIONS: [&str; 6] = ["xlsx", "xlsm", "xls", "xlsb", "ods", "csv"];

/// One validated schedule of `config/schedules.toml`.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// The table key, e.g. `izin-pagi`.
    pub name: String,
    /// The bot's folder name.
    pub bot: String,
    /// Cron, zone and calendar.
    pub schedule: Schedule,
    pub input: ScheduleInput,
    /// `enabled = false` keeps the schedule in the file without firing it.
    pub enabled: bool,
    pub missed: Missed,
    pub overlap: Overlap,
}

/// Where a scheduled run takes its input workbook from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleInput {
    /// The workbook of the bot's `bot.toml` (no `input` or `inbox` given).
    Bot,
    /// `input = "…"`: this workbook, relative to the folder juru runs in.
    Workbook(PathBuf),
    /// `inbox = "…"` (+ `pattern`): the newest file matching `pattern` in `folder`.
    Inbox { folder: PathBuf, pattern: String },
}

/// `config/schedules.toml` and the calendars, validated.
#[derive(Debug, Clone, Default)]
pub struct Schedules {
    /// The schedules file (it may not exist).
    pub path: PathBuf,
    /// Whether the schedules file exists.
    pub exists: bool,
    /// In the order of the file.
    pub schedules: Vec<ScheduleConfig>,
    /// Every calendar in `config/calendars/`, by name.
    pub calendars: BTreeMap<String, Arc<Calendar>>,
}

impl Schedules {
    /// Loads `<dir>/schedules.toml` and every `<dir>/calendars/*.toml`. Schedules
    /// without `time_zone` get `default_zone` (agent.toml's). With `bots` (the bot
    /// folder names), a schedule naming another bot is a problem.
    pub fn load(
        dir: &Path,
        default_zone: Tz,
        bots: Option<&[String]>,
    ) -> Result<Schedules, Problems> {
        let mut problems = Problems::default();
        let calendars_dir = dir.join("calendars");
        let calendars = load_calendars(&calendars_dir, &mut problems);
        let path = dir.join("schedules.toml");
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                problems.push(shown.clone(), format!("cannot read the file: {e}"));
                None
            }
        };
        let mut schedules = Vec::new();
        if let Some(text) = &text {
            let cx = Context {
                default_zone,
                bots,
                calendars: &calendars,
                calendars_dir: &calendars_dir,
            };
            match parse_schedules(&shown, text, &cx) {
                Ok(s) => schedules = s,
                Err(p) => problems.extend(p),
            }
        }
        problems.into_result(Schedules {
            path,
            exists: text.is_some(),
            schedules,
            calendars: calendars
                .into_iter()
                .filter_map(|(name, c)| Some((name, c?)))
                .collect(),
        })
    }
}

/// What a schedule is checked against.
struct Context<'a> {
    default_zone: Tz,
    bots: Option<&'a [String]>,
    /// By name; `None` for a calendar file that has problems of its own.
    calendars: &'a BTreeMap<String, Option<Arc<Calendar>>>,
    calendars_dir: &'a Path,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a schedule table such as [izin-pagi] with `bot` and `cron`"
)]
struct ScheduleFile {
    bot: Option<Spanned<String>>,
    cron: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
    calendar: Option<Spanned<String>>,
    on_holiday: Option<Spanned<String>>,
    input: Option<Spanned<String>>,
    inbox: Option<Spanned<String>>,
    pattern: Option<Spanned<String>>,
    enabled: Option<bool>,
    missed: Option<Spanned<String>>,
    missed_window: Option<Spanned<String>>,
    overlap: Option<Spanned<String>>,
}

/// Schedules by name: `K` is `String` for the first reading (whose errors name the
/// key) and `Spanned<String>` for the second (which knows where each key is).
type SchedulesFile<K> = BTreeMap<K, Spanned<ScheduleFile>>;

fn parse_schedules(shown: &str, text: &str, cx: &Context) -> Result<Vec<ScheduleConfig>, Problems> {
    // Plain keys name the key path in messages; spanned keys know where each is.
    parse_all_as::<SchedulesFile<String>, SchedulesFile<Spanned<String>>>(shown, text).then(
        |file| {
            let at = Located { shown, text };
            let mut problems = Problems::default();
            let mut entries: Vec<_> = file.iter().collect();
            entries.sort_by_key(|(name, _)| name.span().start);
            let schedules = entries
                .into_iter()
                .filter_map(|(name, table)| validate(name, table, &at, cx, &mut problems))
                .collect();
            problems.into_result(schedules)
        },
    )
}

/// One of a closed set of words, or a problem listing them.
fn choice<T: Copy>(
    value: &Option<Spanned<String>>,
    key: &str,
    options: &[(&str, T)],
    at: &Located,
    problems: &mut Problems,
) -> Option<T> {
    let v = value.as_ref()?;
    let found = options
        .iter()
        .find(|(word, _)| *word == v.get_ref().as_str());
    if found.is_none() {
        let words: Vec<String> = options.iter().map(|(w, _)| format!("\"{w}\"")).collect();
        let expected = match words.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => words.join(""),
        };
        problems.0.push(at.problem(
            v,
            key,
            format!("unknown value \"{}\", expected {expected}", v.get_ref()),
        ));
    }
    found.map(|(_, t)| *t)
}

fn validate(
    name: &Spanned<String>,
    table: &Spanned<ScheduleFile>,
    at: &Located,
    cx: &Context,
    problems: &mut Problems,
) -> Option<ScheduleConfig> {
    let before = problems.len();
    let n = name.get_ref();
    let key = |k: &str| format!("{n}.{k}");
    if n.is_empty()
        || !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        problems.0.push(at.problem(
            name,
            n,
            "a schedule name may hold only letters, digits, `-` and `_` (e.g. [izin-pagi])",
        ));
    }
    let f = table.get_ref();

    let bot = match &f.bot {
        None => {
            problems.0.push(at.problem(
                table,
                &key("bot"),
                "missing: the bot to run (its folder name under the bots folder)",
            ));
            String::new()
        }
        Some(b) => {
            let bot = b.get_ref().trim().to_string();
            match cx.bots {
                Some(known) if !known.contains(&bot) => {
                    let hint = if known.is_empty() {
                        "there are no bots".to_string()
                    } else {
                        format!("the bots are: {}", known.join(", "))
                    };
                    problems.0.push(at.problem(
                        b,
                        &key("bot"),
                        format!("no bot named \"{bot}\"; {hint}"),
                    ));
                }
                _ => {}
            }
            bot
        }
    };

    let cron = match &f.cron {
        None => {
            problems.0.push(at.problem(
                table,
                &key("cron"),
                "missing: when to run, as a cron expression such as \"30 7 * * 1-5\" (07:30 Monday to Friday)",
            ));
            None
        }
        Some(c) => match c.get_ref().parse::<Cron>() {
            Ok(cron) => Some(cron),
            Err(e) => {
                problems.0.push(at.problem(c, &key("cron"), e.to_string()));
                None
            }
        },
    };

    let zone = match &f.time_zone {
        None => cx.default_zone,
        Some(tz) => tz.get_ref().parse::<Tz>().unwrap_or_else(|_| {
            problems.0.push(at.problem(
                tz,
                &key("time_zone"),
                format!(
                    "unknown time zone \"{}\", expected an IANA name such as \"Asia/Jakarta\"",
                    tz.get_ref()
                ),
            ));
            cx.default_zone
        }),
    };

    let calendar = f.calendar.as_ref().and_then(|c| {
        let wanted = c.get_ref().trim();
        match cx.calendars.get(wanted) {
            Some(found) => found.clone(),
            None => {
                let known: Vec<&str> = cx.calendars.keys().map(String::as_str).collect();
                let hint = if let Some(stem) = wanted.strip_suffix(".toml") {
                    format!("write the name without .toml: calendar = \"{stem}\"")
                } else if known.is_empty() {
                    format!("there are no calendars in {}", cx.calendars_dir.display())
                } else {
                    format!("the calendars are: {}", known.join(", "))
                };
                problems.0.push(at.problem(
                    c,
                    &key("calendar"),
                    format!(
                        "no calendar \"{wanted}\" ({} does not exist); {hint}",
                        cx.calendars_dir.join(format!("{wanted}.toml")).display()
                    ),
                ));
                None
            }
        }
    });

    let on_holiday = choice(
        &f.on_holiday,
        &key("on_holiday"),
        &[
            ("skip", OnHoliday::Skip),
            ("next_working_day", OnHoliday::NextWorkingDay),
        ],
        at,
        problems,
    )
    .unwrap_or_default();
    if let (Some(h), None) = (&f.on_holiday, &f.calendar) {
        problems.0.push(at.problem(
            h,
            &key("on_holiday"),
            "needs a calendar (e.g. calendar = \"id-kerja\") that says which days are off",
        ));
    }

    if let (Some(cron), Some(cal), OnHoliday::Skip) = (&cron, &calendar, on_holiday) {
        let days = cron.weekdays();
        if days.iter().all(|d| cal.is_weekend(*d)) {
            if let Some(c) = &f.cron {
                let names: Vec<String> =
                    days.iter().map(|d| d.to_string().to_lowercase()).collect();
                problems.0.push(at.problem(
                    c,
                    &key("cron"),
                    format!(
                        "fires only on {}, which calendar \"{}\" skips as weekend days, so it would never run; choose working days or on_holiday = \"next_working_day\"",
                        names.join(", "),
                        cal.name()
                    ),
                ));
            }
        }
    }

    let input = input(f, &key, at, problems);

    let missed = choice(
        &f.missed,
        &key("missed"),
        &[("skip", false), ("run_once", true)],
        at,
        problems,
    );
    let missed = match (missed, &f.missed_window) {
        (Some(true), None) => {
            if let Some(m) = &f.missed {
                problems.0.push(at.problem(
                    m,
                    &key("missed"),
                    "\"run_once\" needs missed_window: how late a missed run may still start (e.g. \"2h\")",
                ));
            }
            Missed::Skip
        }
        (Some(true), Some(w)) => match parse_duration(w.get_ref()) {
            Ok(window) if !window.is_zero() => Missed::RunOnce { window },
            Ok(_) => {
                problems.0.push(at.problem(
                    w,
                    &key("missed_window"),
                    "must be longer than 0s, e.g. \"2h\"",
                ));
                Missed::Skip
            }
            Err(e) => {
                problems.0.push(at.problem(w, &key("missed_window"), e));
                Missed::Skip
            }
        },
        (_, Some(w)) => {
            problems.0.push(at.problem(
                w,
                &key("missed_window"),
                "applies only with missed = \"run_once\"",
            ));
            Missed::Skip
        }
        (_, None) => Missed::Skip,
    };

    let overlap = choice(
        &f.overlap,
        &key("overlap"),
        &[("skip", Overlap::Skip), ("queue", Overlap::Queue)],
        at,
        problems,
    )
    .unwrap_or_default();

    if problems.len() > before {
        return None;
    }
    let mut schedule = Schedule::new(cron?, zone);
    if let Some(cal) = calendar {
        schedule = schedule.with_calendar(cal, on_holiday);
    }
    Some(ScheduleConfig {
        name: n.clone(),
        bot,
        schedule,
        input,
        enabled: f.enabled.unwrap_or(true),
        missed,
        overlap,
    })
}

/// `input`, or `inbox` with `pattern`, or neither.
fn input(
    f: &ScheduleFile,
    key: &dyn Fn(&str) -> String,
    at: &Located,
    problems: &mut Problems,
) -> ScheduleInput {
    if let Some(p) = &f.pattern {
        let pat = p.get_ref();
        let problem = if f.inbox.is_none() {
            Some("needs inbox, the folder to look in".to_string())
        } else if pat.trim().is_empty() || pat.contains(['/', '\\']) {
            Some(format!("expected a file-name pattern such as \"*.xlsx\" (no folders: those go in inbox), got \"{pat}\""))
        } else if pat.matches('[').count() != pat.matches(']').count() {
            Some(format!(
                "\"{pat}\" has a `[` without its `]` (or the other way round)"
            ))
        } else {
            None
        };
        if let Some(message) = problem {
            problems.0.push(at.problem(p, &key("pattern"), message));
        }
    }
    match (&f.input, &f.inbox) {
        (Some(_), Some(inbox)) => {
            problems.0.push(at.problem(
                inbox,
                &key("inbox"),
                "set either input (one workbook) or inbox (the newest matching file in a folder), not both",
            ));
            ScheduleInput::Bot
        }
        (Some(i), None) => {
            let path = i.get_ref().trim();
            let ext = Path::new(path)
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .unwrap_or_default();
            if !WORKBOOK_EXTENSIONS.contains(&ext.as_str()) {
                problems.0.push(at.problem(
                    i,
                    &key("input"),
                    format!("\"{path}\" is not a workbook; expected a .xlsx, .xlsm, .xls, .xlsb, .ods or .csv file"),
                ));
            }
            ScheduleInput::Workbook(PathBuf::from(path))
        }
        (None, Some(inbox)) => {
            let folder = inbox.get_ref().trim();
            if folder.is_empty() {
                problems.0.push(at.problem(
                    inbox,
                    &key("inbox"),
                    "must not be empty: the folder new workbooks arrive in",
                ));
            }
            ScheduleInput::Inbox {
                folder: PathBuf::from(folder),
                pattern: f
                    .pattern
                    .as_ref()
                    .map_or("*.xlsx".to_string(), |p| p.get_ref().trim().to_string()),
            }
        }
        (None, None) => ScheduleInput::Bot,
    }
}

/// A calendar file; `K` as in [`SchedulesFile`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "K: Deserialize<'de> + Ord"))]
struct CalendarFile<K> {
    #[allow(dead_code)]
    description: Option<String>,
    weekends: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default = "BTreeMap::new")]
    holidays: BTreeMap<K, Spanned<String>>,
}

/// Every `*.toml` of the calendars folder, by name; `None` for one with problems
/// (they go into `problems`).
fn load_calendars(dir: &Path, problems: &mut Problems) -> BTreeMap<String, Option<Arc<Calendar>>> {
    let mut out = BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return out,
        Err(e) => {
            problems.push(
                dir.display().to_string(),
                format!("cannot read the calendars folder: {e}"),
            );
            return out;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .collect();
    paths.sort();
    for path in paths {
        let Some(name) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let shown = path.display().to_string();
        let calendar = match std::fs::read_to_string(&path) {
            Ok(text) => parse_calendar(&name, &shown, &text)
                .map_err(|p| problems.extend(p))
                .ok(),
            Err(e) => {
                problems.push(shown, format!("cannot read the file: {e}"));
                None
            }
        };
        out.insert(name, calendar.map(Arc::new));
    }
    out
}

/// Parses a calendar file (`shown` is its path as people know it).
pub fn parse_calendar(name: &str, shown: &str, text: &str) -> Result<Calendar, Problems> {
    let file = parse_all_as::<CalendarFile<String>, CalendarFile<Spanned<String>>>(shown, text)
        .into_result()?;
    let at = Located { shown, text };
    let mut problems = Problems::default();
    let weekends = match &file.weekends {
        None => vec![Weekday::Sat, Weekday::Sun],
        Some(list) => {
            let days: Vec<Weekday> = list
                .get_ref()
                .iter()
                .filter_map(|d| {
                    weekday(d.get_ref()).or_else(|| {
                        problems.0.push(at.problem(
                            d,
                            "weekends",
                            format!(
                                "\"{}\" is not a day; expected \"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\" or \"sun\"",
                                d.get_ref()
                            ),
                        ));
                        None
                    })
                })
                .collect();
            let all = [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ];
            if all.iter().all(|d| days.contains(d)) {
                problems.0.push(at.problem(
                    list,
                    "weekends",
                    "lists every day of the week; at least one must be a working day",
                ));
            }
            days
        }
    };
    let mut days = BTreeMap::new();
    for (date, holiday) in &file.holidays {
        let key = format!("holidays.{}", date.get_ref());
        let parsed = (date.get_ref().len() == 10)
            .then(|| NaiveDate::parse_from_str(date.get_ref(), "%Y-%m-%d").ok())
            .flatten();
        match parsed {
            None => problems.0.push(at.problem(
                date,
                &key,
                format!(
                    "\"{}\" is not a date; expected YYYY-MM-DD such as 2026-08-17",
                    date.get_ref()
                ),
            )),
            Some(_) if holiday.get_ref().trim().is_empty() => problems.0.push(at.problem(
                holiday,
                &key,
                "needs the day's name, e.g. \"Proklamasi Kemerdekaan\"",
            )),
            Some(d) => {
                days.insert(d, holiday.get_ref().trim().to_string());
            }
        }
    }
    problems.into_result(Calendar::new(name, &weekends, days))
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

/// For tests: schedules from text, against the given calendars and bots.
#[cfg(test)]
fn parse_for_test(
    text: &str,
    calendars: &[(&str, &str)],
    bots: Option<&[String]>,
) -> Result<Vec<ScheduleConfig>, Problems> {
    let mut problems = Problems::default();
    let calendars: BTreeMap<String, Option<Arc<Calendar>>> = calendars
        .iter()
        .map(|(name, text)| {
            let shown = format!("config/calendars/{name}.toml");
            let c = parse_calendar(name, &shown, text)
                .map_err(|p| problems.extend(p))
                .ok()
                .map(Arc::new);
            (name.to_string(), c)
        })
        .collect();
    let cx = Context {
        default_zone: chrono_tz::Asia::Jakarta,
        bots,
        calendars: &calendars,
        calendars_dir: Path::new("config/calendars"),
    };
    let result = parse_schedules("config/schedules.toml", text, &cx);
    match result {
        Ok(s) if problems.is_empty() => Ok(s),
        Ok(_) => Err(problems),
        Err(p) => {
            problems.extend(p);
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::schedule;
    use crate::Problem;

    const KERJA: &str = "weekends = [\"sat\", \"sun\"]\n[holidays]\n2026-06-16 = \"Tahun Baru Islam 1448 Hijriah\"\n";

    fn bots() -> Vec<String> {
        vec!["demo-perizinan".to_string(), "cek-permohonan".to_string()]
    }

    fn problems(text: &str) -> Vec<String> {
        match parse_for_test(text, &[("id-kerja", KERJA)], Some(&bots())) {
            Ok(s) => panic!("expected problems, got {s:?}"),
            Err(p) => p.0.iter().map(Problem::to_string).collect(),
        }
    }

    #[test]
    fn a_full_schedule() {
        let text = r#"
[izin-pagi]
bot = "demo-perizinan"
cron = "30 7 * * 1-5"
calendar = "id-kerja"
on_holiday = "next_working_day"
inbox = "var/inbox/izin"
pattern = "*.xls?"
missed = "run_once"
missed_window = "2h"
overlap = "queue"

[rekap-malam]
bot = "cek-permohonan"
cron = "0 0 22 * * *"
time_zone = "Europe/Amsterdam"
input = "data/rekap.xlsx"
enabled = false
"#;
        let s = parse_for_test(text, &[("id-kerja", KERJA)], Some(&bots())).unwrap();
        assert_eq!(s.len(), 2);
        let a = &s[0];
        assert_eq!(
            (a.name.as_str(), a.bot.as_str()),
            ("izin-pagi", "demo-perizinan")
        );
        assert_eq!(a.schedule.zone, chrono_tz::Asia::Jakarta);
        assert_eq!(a.schedule.on_holiday, OnHoliday::NextWorkingDay);
        assert_eq!(a.schedule.calendar.as_ref().unwrap().name(), "id-kerja");
        assert_eq!(
            a.input,
            ScheduleInput::Inbox {
                folder: "var/inbox/izin".into(),
                pattern: "*.xls?".into()
            }
        );
        assert_eq!(
            a.missed,
            Missed::RunOnce {
                window: Duration::from_secs(7200)
            }
        );
        assert_eq!(a.overlap, Overlap::Queue);
        assert!(a.enabled);
        let b = &s[1];
        assert_eq!(b.name, "rekap-malam");
        assert_eq!(b.schedule.zone, chrono_tz::Europe::Amsterdam);
        assert_eq!(b.input, ScheduleInput::Workbook("data/rekap.xlsx".into()));
        assert_eq!(
            (b.missed, b.overlap, b.enabled),
            (Missed::Skip, Overlap::Skip, false)
        );
        assert!(b.schedule.calendar.is_none());
    }

    #[test]
    fn an_inbox_pattern_defaults_to_xlsx() {
        let s = parse_for_test(
            "[a]\nbot = \"demo-perizinan\"\ncron = \"@daily\"\ninbox = \"masuk\"\n",
            &[],
            None,
        )
        .unwrap();
        assert_eq!(
            s[0].input,
            ScheduleInput::Inbox {
                folder: "masuk".into(),
                pattern: "*.xlsx".into()
            }
        );
    }

    #[test]
    fn every_problem_with_its_line_and_column() {
        let text = r#"[izin-pagi]
bot = "demo-perijinan"
cron = "30 7 * * mon-fry"
time_zone = "Asia/Jakrta"
calendar = "id-libur"
missed = "run_once"

[izin-sore]
bot = "demo-perizinan"
cron = "0 9 * * sat,sun"
calendar = "id-kerja"
input = "masuk.txt"
inbox = "var/inbox"
pattern = "in/*.xlsx"
missed_window = "2 jam"
overlap = "tunggu"

[kosong]
on_holiday = "skip"
"#;
        let all = problems(text);
        assert_eq!(
            all,
            [
                "config/schedules.toml:2:7: izin-pagi.bot: no bot named \"demo-perijinan\"; the bots are: demo-perizinan, cek-permohonan",
                "config/schedules.toml:3:8: izin-pagi.cron: the day-of-week field \"mon-fry\" (field 5 of 5) has \"fry\", expected a number 0-7 or a day name (sun-sat)",
                "config/schedules.toml:4:13: izin-pagi.time_zone: unknown time zone \"Asia/Jakrta\", expected an IANA name such as \"Asia/Jakarta\"",
                "config/schedules.toml:5:12: izin-pagi.calendar: no calendar \"id-libur\" (config/calendars/id-libur.toml does not exist); the calendars are: id-kerja",
                "config/schedules.toml:6:10: izin-pagi.missed: \"run_once\" needs missed_window: how late a missed run may still start (e.g. \"2h\")",
                "config/schedules.toml:10:8: izin-sore.cron: fires only on sat, sun, which calendar \"id-kerja\" skips as weekend days, so it would never run; choose working days or on_holiday = \"next_working_day\"",
                "config/schedules.toml:14:11: izin-sore.pattern: expected a file-name pattern such as \"*.xlsx\" (no folders: those go in inbox), got \"in/*.xlsx\"",
                "config/schedules.toml:13:9: izin-sore.inbox: set either input (one workbook) or inbox (the newest matching file in a folder), not both",
                "config/schedules.toml:15:17: izin-sore.missed_window: applies only with missed = \"run_once\"",
                "config/schedules.toml:16:11: izin-sore.overlap: unknown value \"tunggu\", expected \"skip\" or \"queue\"",
                "config/schedules.toml:18:1: kosong.bot: missing: the bot to run (its folder name under the bots folder)",
                "config/schedules.toml:18:1: kosong.cron: missing: when to run, as a cron expression such as \"30 7 * * 1-5\" (07:30 Monday to Friday)",
                "config/schedules.toml:19:14: kosong.on_holiday: needs a calendar (e.g. calendar = \"id-kerja\") that says which days are off",
            ],
            "{all:#?}"
        );
    }

    #[test]
    fn a_wrong_type_or_unknown_key_is_located() {
        assert_eq!(
            problems("[a]\nbot = \"demo-perizinan\"\ncron = \"@daily\"\nenabled = \"ya\"\n"),
            ["config/schedules.toml:4:11: a.enabled: invalid type: string \"ya\", expected a boolean"]
        );
        let p =
            problems("[a]\nbot = \"demo-perizinan\"\ncron = \"@daily\"\nzona = \"Asia/Jakarta\"\n");
        assert_eq!(p.len(), 1);
        assert!(
            p[0].starts_with(
                "config/schedules.toml:4:1: a.zona: unknown field `zona`, expected one of"
            ),
            "{p:?}"
        );
        let p = problems("bot = \"demo-perizinan\"\n");
        assert!(
            p[0].contains("expected a schedule table such as [izin-pagi] with `bot` and `cron`"),
            "{p:?}"
        );
        assert_eq!(
            problems("[\"izin pagi\"]\nbot = \"demo-perizinan\"\ncron = \"@daily\"\n"),
            ["config/schedules.toml:1:2: izin pagi: a schedule name may hold only letters, digits, `-` and `_` (e.g. [izin-pagi])"]
        );
        assert_eq!(
            problems("[a]\nbot = \"demo-perizinan\"\ncron = \"@daily\"\ncalendar = \"id-kerja.toml\"\n"),
            ["config/schedules.toml:4:12: a.calendar: no calendar \"id-kerja.toml\" (config/calendars/id-kerja.toml.toml does not exist); write the name without .toml: calendar = \"id-kerja\""]
        );
    }

    #[test]
    fn every_unknown_key_and_wrong_type_is_listed_with_the_other_problems() {
        let p = problems(
            "[a]\nbot = \"demo-perizinan\"\ncron = \"@daily\"\nzona = \"Asia/Jakarta\"\nenabled = \"ya\"\n\n[b]\nbot = \"demo-perizinan\"\ncron = \"0 0 * *\"\nmised = \"skip\"\novrelap = \"queue\"\n",
        );
        assert_eq!(p.len(), 5, "{p:#?}");
        assert!(
            p[0].starts_with("config/schedules.toml:4:1: a.zona: unknown field `zona`"),
            "{p:#?}"
        );
        assert!(
            p[1].starts_with("config/schedules.toml:5:11: a.enabled: invalid type"),
            "{p:#?}"
        );
        assert!(
            p[2].starts_with("config/schedules.toml:10:1: b.mised: unknown field `mised`"),
            "{p:#?}"
        );
        assert!(
            p[3].starts_with("config/schedules.toml:11:1: b.ovrelap: unknown field `ovrelap`"),
            "{p:#?}"
        );
        assert!(
            p[4].starts_with("config/schedules.toml:9:8: b.cron: "),
            "{p:#?}"
        );
    }

    #[test]
    fn missed_window_must_be_a_duration() {
        assert_eq!(
            problems("[a]\nbot = \"demo-perizinan\"\ncron = \"@daily\"\nmissed = \"run_once\"\nmissed_window = \"2 jam\"\n"),
            ["config/schedules.toml:5:17: a.missed_window: expected a duration such as \"500ms\", \"30s\", \"5m\" or \"1h\", got \"2 jam\""]
        );
    }

    #[test]
    fn unknown_bots_are_not_checked_without_a_bots_folder() {
        let s = parse_for_test("[a]\nbot = \"lain\"\ncron = \"@daily\"\n", &[], None).unwrap();
        assert_eq!(s[0].bot, "lain");
    }

    #[test]
    fn calendar_problems_name_the_calendar_file() {
        let text = "weekends = [\"sat\", \"minggu\"]\n[holidays]\n2026-02-30 = \"Tanggal salah\"\n2026-08-17 = \"\"\n";
        let err = parse_calendar("rusak", "config/calendars/rusak.toml", text).unwrap_err();
        let all: Vec<String> = err.0.iter().map(Problem::to_string).collect();
        assert_eq!(
            all,
            [
                "config/calendars/rusak.toml:1:20: weekends: \"minggu\" is not a day; expected \"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\" or \"sun\"",
                "config/calendars/rusak.toml:3:1: holidays.2026-02-30: \"2026-02-30\" is not a date; expected YYYY-MM-DD such as 2026-08-17",
                "config/calendars/rusak.toml:4:14: holidays.2026-08-17: needs the day's name, e.g. \"Proklamasi Kemerdekaan\"",
            ]
        );
        let err = parse_calendar(
            "x",
            "x.toml",
            "weekends = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("x.toml:1:12: weekends: lists every day"),
            "{err}"
        );
        let err = parse_calendar("x", "x.toml", "[holidays]\n2026-08-17 = 17\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("x.toml:2:14: holidays.2026-08-17: invalid type"),
            "{err}"
        );
    }

    #[test]
    fn a_schedule_with_a_broken_calendar_gets_no_second_problem() {
        let err = parse_for_test(
            "[a]\nbot = \"demo-perizinan\"\ncron = \"@daily\"\ncalendar = \"rusak\"\n",
            &[("rusak", "weekends = [\"minggu\"]\n")],
            None,
        )
        .unwrap_err();
        assert_eq!(err.len(), 1, "{err}");
        assert!(
            err.to_string().contains("rusak.toml:1:13: weekends"),
            "{err}"
        );
    }

    #[test]
    fn the_shipped_files_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let bots = vec!["demo-perizinan".to_string(), "cek-permohonan".to_string()];
        let s = Schedules::load(&dir, chrono_tz::Asia::Jakarta, Some(&bots)).unwrap();
        assert!(s.exists && !s.schedules.is_empty());
        let kerja = &s.calendars["id-kerja"];
        // 17 national holidays and 8 days of cuti bersama in 2026.
        assert_eq!(kerja.days().len(), 25);
        assert!(kerja.is_weekend(Weekday::Sat) && kerja.is_weekend(Weekday::Sun));
        assert_eq!(
            kerja.day_off(NaiveDate::from_ymd_opt(2026, 8, 17).unwrap()),
            Some(schedule::DayOff::Holiday(
                "Proklamasi Kemerdekaan Republik Indonesia".into()
            ))
        );
    }
}
