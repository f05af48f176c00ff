//! The trends page: per bot, the items of the last 30 days stacked by outcome per
//! day, the exception rate, the median time per item and the run durations; per
//! schedule, the fires on time and late. Charts are SVG written here on the
//! server (presentation attributes only, so the page's Content-Security-Policy
//! holds); labels follow the user's language.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::pages::{esc, layout, t, to_login, with_store};
use super::{App, Shared};
use crate::config::Language;
use crate::report::human_duration;
use crate::store::state;
use crate::store::trends::{TrendFire, TrendItem, TrendRun};

/// Days shown.
pub(crate) const DAYS: i64 = 30;
/// A fire whose run started more than this after its time counts as late.
pub(super) const LATE_AFTER_SECS: i64 = 120;

const GREEN: &str = "#2e7d32";
const AMBER: &str = "#e0a100";
const RED: &str = "#c62828";
const BLUE: &str = "#14426b";

/// Items of one bot on one day, by outcome.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Day {
    pub done: usize,
    pub business: usize,
    /// System exceptions and items that need verification.
    pub system: usize,
}

impl Day {
    fn total(&self) -> usize {
        self.done + self.business + self.system
    }
}

/// What the page shows for one bot.
#[derive(Debug, Default)]
pub(crate) struct BotTrend {
    /// The last [`DAYS`] local days, oldest first.
    pub days: Vec<(NaiveDate, Day)>,
    /// Exceptions (business and system) per ended item, 0..=1.
    pub exception_rate: Option<f64>,
    /// Median seconds per ended item.
    pub median_item_secs: Option<f64>,
    /// Each run's duration in seconds, oldest first (ended runs only).
    pub runs: Vec<(NaiveDate, u64)>,
}

fn parse(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Adds up the store's rows per bot, days in `zone`, ending with `today`.
pub(crate) fn bot_trends(
    items: &[TrendItem],
    runs: &[TrendRun],
    zone: chrono_tz::Tz,
    today: NaiveDate,
) -> BTreeMap<String, BotTrend> {
    let first = today - Duration::days(DAYS - 1);
    let day_of = |t: &str| parse(t).map(|t| t.with_timezone(&zone).date_naive());
    let mut out: BTreeMap<String, BotTrend> = BTreeMap::new();
    let mut per_day: BTreeMap<String, BTreeMap<NaiveDate, Day>> = BTreeMap::new();
    let mut times: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut ended: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for i in items {
        let Some(day) = day_of(&i.run_started_at).filter(|d| *d >= first && *d <= today) else {
            continue;
        };
        let d = per_day
            .entry(i.bot.clone())
            .or_default()
            .entry(day)
            .or_default();
        let exception = match i.state.as_str() {
            state::DONE => {
                d.done += 1;
                false
            }
            state::BUSINESS_EXCEPTION => {
                d.business += 1;
                true
            }
            state::SYSTEM_EXCEPTION | state::NEEDS_VERIFICATION => {
                d.system += 1;
                true
            }
            _ => continue,
        };
        let e = ended.entry(i.bot.clone()).or_default();
        e.0 += 1;
        e.1 += usize::from(exception);
        if let (Some(a), Some(b)) = (
            i.started_at.as_deref().and_then(parse),
            i.finished_at.as_deref().and_then(parse),
        ) {
            let secs = (b - a).num_milliseconds().max(0) as f64 / 1000.0;
            times.entry(i.bot.clone()).or_default().push(secs);
        }
    }
    for r in runs {
        let (Some(day), Some(a), Some(b)) = (
            day_of(&r.started_at).filter(|d| *d >= first && *d <= today),
            parse(&r.started_at),
            r.finished_at.as_deref().and_then(parse),
        ) else {
            continue;
        };
        out.entry(r.bot.clone())
            .or_default()
            .runs
            .push((day, (b - a).num_seconds().max(0) as u64));
    }
    for bot in per_day.keys().chain(ended.keys()) {
        out.entry(bot.clone()).or_default();
    }
    for (bot, trend) in out.iter_mut() {
        let days = per_day.remove(bot).unwrap_or_default();
        trend.days = (0..DAYS)
            .map(|k| {
                let d = first + Duration::days(k);
                (d, days.get(&d).copied().unwrap_or_default())
            })
            .collect();
        trend.exception_rate = ended
            .get(bot)
            .filter(|(n, _)| *n > 0)
            .map(|(n, x)| *x as f64 / *n as f64);
        trend.median_item_secs = median(times.remove(bot).unwrap_or_default());
    }
    out
}

/// Per schedule: fires whose run started on time, and those late or missed.
pub(crate) fn schedule_trends(fires: &[TrendFire]) -> BTreeMap<String, (usize, usize)> {
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for f in fires {
        let e = out.entry(f.schedule.clone()).or_default();
        let on_time = match (
            parse(&f.scheduled_for),
            f.run_started_at.as_deref().and_then(parse),
        ) {
            (Some(due), Some(start)) => (start - due).num_seconds() <= LATE_AFTER_SECS,
            _ => false,
        };
        if on_time {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    out
}

/// The stacked bars of one bot's items per day.
pub(crate) fn items_chart(en: bool, bot: &str, days: &[(NaiveDate, Day)]) -> String {
    let (w, h, left, bottom, top) = (660.0, 200.0, 36.0, 28.0, 10.0);
    let plot_h = h - bottom - top;
    let max = days
        .iter()
        .map(|(_, d)| d.total())
        .max()
        .unwrap_or(0)
        .max(1);
    // A round top for the axis: 1, 2, 5, 10, 20, 50...
    let mut scale = 1usize;
    for step in [1usize, 2, 5].iter().cycle().scan(1usize, |m, s| {
        let v = s * *m;
        if *s == 5 {
            *m *= 10;
        }
        Some(v)
    }) {
        if step >= max {
            scale = step;
            break;
        }
    }
    let slot = (w - left - 4.0) / days.len().max(1) as f64;
    let y = |n: usize| top + plot_h - plot_h * n as f64 / scale as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart items\" data-bot=\"{b}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{label}\">",
        b = esc(bot),
        label = esc(&format!("{} {bot}", t(en, "Item per hari,", "Items per day,"))),
    );
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\" fill=\"#555\">{scale}</text><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\" fill=\"#555\">0</text>",
        y(0),
        w - 4.0,
        y(0),
        left - 4.0,
        y(scale) + 4.0,
        left - 4.0,
        y(0),
    );
    for (k, (day, d)) in days.iter().enumerate() {
        let x = left + slot * k as f64 + 1.0;
        let bw = (slot - 2.0).max(1.0);
        let mut base = 0usize;
        for (class, n, color, word) in [
            ("done", d.done, GREEN, t(en, "selesai", "done")),
            (
                "business",
                d.business,
                AMBER,
                t(en, "pengecualian bisnis", "business exceptions"),
            ),
            (
                "system",
                d.system,
                RED,
                t(en, "pengecualian sistem", "system exceptions"),
            ),
        ] {
            if n == 0 {
                continue;
            }
            let (y1, y0) = (y(base + n), y(base));
            let _ = write!(
                svg,
                "<rect class=\"{class}\" data-day=\"{day}\" data-n=\"{n}\" x=\"{x:.1}\" y=\"{y1:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{color}\"><title>{} {n} {word}</title></rect>",
                y0 - y1,
                day.format("%d/%m/%Y"),
            );
            base += n;
        }
        if k % 5 == 0 || k + 1 == days.len() {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
                x + bw / 2.0,
                h - 10.0,
                day.format("%d/%m")
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Bars of the run durations, oldest first.
pub(crate) fn runs_chart(en: bool, bot: &str, runs: &[(NaiveDate, u64)]) -> String {
    let (w, h, left, bottom, top) = (660.0, 120.0, 90.0, 18.0, 8.0);
    let plot_h = h - bottom - top;
    let max = runs.iter().map(|(_, s)| *s).max().unwrap_or(0).max(1);
    let slot = (w - left - 4.0) / runs.len().max(1) as f64;
    let lang = if en { Language::En } else { Language::Id };
    let mut svg = format!(
        "<svg class=\"chart runs\" data-bot=\"{b}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{label}\">\
<line x1=\"{left}\" y1=\"{base}\" x2=\"{x2}\" y2=\"{base}\" stroke=\"#999\"/><text x=\"{lx}\" y=\"{ty}\" font-size=\"10\" text-anchor=\"end\" fill=\"#555\">{top_label}</text>",
        b = esc(bot),
        label = esc(&format!("{} {bot}", t(en, "Durasi proses,", "Run durations,"))),
        base = top + plot_h,
        x2 = w - 4.0,
        lx = left - 4.0,
        ty = top + 8.0,
        top_label = esc(&human_duration(max, lang)),
    );
    for (k, (day, secs)) in runs.iter().enumerate() {
        let bh = plot_h * *secs as f64 / max as f64;
        let _ = write!(
            svg,
            "<rect class=\"run\" data-secs=\"{secs}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{BLUE}\"><title>{} {}</title></rect>",
            left + slot * k as f64 + 1.0,
            top + plot_h - bh,
            (slot - 2.0).clamp(1.0, 40.0),
            day.format("%d/%m/%Y"),
            esc(&human_duration(*secs, lang)),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One bar split into on-time (green) and late (red) fires.
fn fires_chart(en: bool, schedule: &str, on_time: usize, late: usize) -> String {
    let (w, h) = (300.0, 18.0);
    let total = (on_time + late).max(1) as f64;
    let ok_w = w * on_time as f64 / total;
    format!(
        "<svg class=\"chart fires\" data-schedule=\"{s}\" data-on-time=\"{on_time}\" data-late=\"{late}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{s}\">\
<rect x=\"0\" y=\"0\" width=\"{ok_w:.1}\" height=\"{h}\" fill=\"{GREEN}\"><title>{on_time} {ot}</title></rect>\
<rect x=\"{ok_w:.1}\" y=\"0\" width=\"{:.1}\" height=\"{h}\" fill=\"{RED}\"><title>{late} {lt}</title></rect></svg>",
        w - ok_w,
        s = esc(schedule),
        ot = t(en, "tepat waktu", "on time"),
        lt = t(en, "terlambat atau terlewat", "late or missed"),
    )
}

fn legend(en: bool) -> String {
    let mut out = String::from("<p class=\"legend\">");
    for (color, word) in [
        (GREEN, t(en, "Selesai", "Done")),
        (AMBER, t(en, "Pengecualian bisnis", "Business exceptions")),
        (RED, t(en, "Pengecualian sistem", "System exceptions")),
    ] {
        let _ = write!(
            out,
            "<svg width=\"12\" height=\"12\" xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"12\" height=\"12\" fill=\"{color}\"/></svg> {word} &nbsp; "
        );
    }
    out.push_str("</p>");
    out
}

pub(super) async fn trends_page(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let Some(s) = app.session(&headers) else {
        return to_login();
    };
    let en = s.english;
    let now = Utc::now();
    let since = (now - Duration::days(DAYS + 1)).to_rfc3339();
    let rows = with_store(&app, move |st| {
        Ok((
            st.trend_items(&since)?,
            st.trend_runs(&since)?,
            st.trend_fires(&since)?,
        ))
    })
    .await;
    let (items, runs, fires) = match rows {
        Ok(v) => v,
        Err(r) => return r,
    };
    let body = page_body(&app, en, &items, &runs, &fires, now);
    layout(
        &s,
        "/trends",
        t(en, "Tren 30 hari", "Trends, 30 days"),
        &body,
    )
}

fn page_body(
    app: &App,
    en: bool,
    items: &[TrendItem],
    runs: &[TrendRun],
    fires: &[TrendFire],
    now: DateTime<Utc>,
) -> String {
    let zone = app.config.time_zone;
    let lang = if en { Language::En } else { Language::Id };
    let today = now.with_timezone(&zone).date_naive();
    let bots = bot_trends(items, runs, zone, today);
    let mut body = String::new();
    if bots.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\" id=\"none\">{}</p>",
            t(
                en,
                "Belum ada proses dalam 30 hari terakhir.",
                "No runs in the last 30 days."
            )
        );
    } else {
        body.push_str(&legend(en));
    }
    for (bot, trend) in &bots {
        let durations: Vec<u64> = trend.runs.iter().map(|(_, s)| *s).collect();
        let median_run = median(durations.iter().map(|s| *s as f64).collect());
        let _ = write!(
            body,
            "<section class=\"bot\" id=\"bot-{id}\"><h2>{b}</h2><p><span class=\"card rate\">{rate_l}: {rate}</span><span class=\"card median\">{item_l}: {item}</span><span class=\"card runs\">{runs_l}: {n}, {median_l} {run}</span></p>",
            id = esc(bot),
            b = esc(bot),
            rate_l = t(en, "Tingkat pengecualian", "Exception rate"),
            rate = trend
                .exception_rate
                .map(|r| format!("{:.0}%", r * 100.0))
                .unwrap_or_else(|| "—".into()),
            item_l = t(en, "Median waktu per item", "Median time per item"),
            item = trend
                .median_item_secs
                .map(|s| human_duration(s.round() as u64, lang))
                .unwrap_or_else(|| "—".into()),
            runs_l = t(en, "Proses", "Runs"),
            n = durations.len(),
            median_l = t(en, "median", "median"),
            run = median_run
                .map(|s| human_duration(s.round() as u64, lang))
                .unwrap_or_else(|| "—".into()),
        );
        let _ = write!(
            body,
            "<h3>{}</h3>{}<h3>{}</h3>{}</section>",
            t(en, "Item per hari", "Items per day"),
            items_chart(en, bot, &trend.days),
            t(en, "Durasi tiap proses", "Duration of each run"),
            runs_chart(en, bot, &trend.runs),
        );
    }
    let schedules = schedule_trends(fires);
    if !schedules.is_empty() {
        let _ =
            write!(
            body,
            "<h2>{}</h2><table id=\"fires\"><tr><th>{}</th><th>{}</th><th>{}</th><th></th></tr>",
            t(en, "Jadwal: tepat waktu dan terlambat", "Schedules: on time and late"),
            t(en, "Jadwal", "Schedule"),
            t(en, "Tepat waktu", "On time"),
            t(en, "Terlambat atau terlewat", "Late or missed"),
        );
        for (name, (ok, late)) in &schedules {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{ok}</td><td>{late}</td><td>{}</td></tr>",
                esc(name),
                fires_chart(en, name, *ok, *late)
            );
        }
        body.push_str("</table>");
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(bot: &str, state: &str, day: &str, secs: i64) -> TrendItem {
        let start = format!("{day}T02:00:00+00:00");
        let end = parse(&start).unwrap() + Duration::seconds(secs);
        TrendItem {
            bot: bot.into(),
            state: state.into(),
            run_started_at: start.clone(),
            started_at: Some(start),
            finished_at: Some(end.to_rfc3339()),
        }
    }

    #[test]
    fn days_add_up_by_outcome_with_rate_and_medians() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let items = vec![
            item("izin", "done", "2026-11-28", 10),
            item("izin", "done", "2026-11-28", 20),
            item("izin", "business_exception", "2026-11-28", 30),
            item("izin", "system_exception", "2026-11-29", 40),
            item("izin", "done", "2026-09-01", 50), // too old
        ];
        let runs = vec![TrendRun {
            bot: "izin".into(),
            started_at: "2026-11-28T02:00:00+00:00".into(),
            finished_at: Some("2026-11-28T02:01:27+00:00".into()),
        }];
        let t = bot_trends(&items, &runs, chrono_tz::Asia::Jakarta, today);
        let izin = &t["izin"];
        assert_eq!(izin.days.len(), DAYS as usize);
        assert_eq!(
            izin.days[28],
            (
                NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
                Day {
                    done: 2,
                    business: 1,
                    system: 0
                }
            )
        );
        assert_eq!(izin.days[29].1.system, 1);
        assert_eq!(izin.exception_rate, Some(0.5));
        assert_eq!(izin.median_item_secs, Some(25.0));
        assert_eq!(
            izin.runs,
            vec![(NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(), 87)]
        );
        let svg = items_chart(false, "izin", &izin.days);
        assert!(
            svg.contains("<rect class=\"done\" data-day=\"2026-11-28\" data-n=\"2\""),
            "{svg}"
        );
        assert!(
            svg.contains("<rect class=\"business\" data-day=\"2026-11-28\" data-n=\"1\""),
            "{svg}"
        );
        assert!(svg.contains("<title>28/11/2026 2 selesai</title>"), "{svg}");
        assert!(!svg.contains("style="), "no inline style: {svg}");
    }

    #[test]
    fn fires_on_time_and_late() {
        let f = |due: &str, start: Option<&str>| TrendFire {
            schedule: "pagi".into(),
            scheduled_for: due.into(),
            state: "fired".into(),
            run_started_at: start.map(str::to_string),
        };
        let fires = vec![
            f(
                "2026-11-28T00:30:00+00:00",
                Some("2026-11-28T00:30:05+00:00"),
            ),
            f(
                "2026-11-27T00:30:00+00:00",
                Some("2026-11-27T00:40:00+00:00"),
            ),
            f("2026-11-26T00:30:00+00:00", None),
        ];
        assert_eq!(schedule_trends(&fires)["pagi"], (1, 2));
    }
}
