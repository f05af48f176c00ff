//! `GET /metrics`: the agent's numbers for Prometheus, in the text exposition format
//! 0.0.4, without a login (only when `[web] metrics = true`, the default). It shows
//! bot and schedule names and counts, never row data, messages or secrets.
//!
//! From the store, over its whole history (so counters only grow): runs by bot and
//! state, runs going on, ended items by bot and outcome, the time of each ended
//! item's last attempt as a histogram, and how late schedule fires started their
//! runs. From this process: browser sessions open now and `[limits] max_browsers`,
//! messages waiting or refused in the outbox, the version.
//!
//! A scrape costs two store queries: every run (with the fires that started it),
//! and the ended items of the runs not yet tallied. A run that `finished` or was
//! `closed` never changes again: its tally is kept in memory, so its items are read
//! once per process, not once per scrape; scrapes are answered one at a time. Store
//! calls run on a blocking thread.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::pages::with_store;
use super::{lock, Shared};
use crate::store::metrics::{MetricItem, MetricRun};
use crate::store::state;

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the item duration histogram's buckets.
pub const ITEM_BUCKETS: [f64; 8] = [1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];

/// Upper bounds (seconds) of the fire lateness histogram's buckets.
pub const LATENESS_BUCKETS: [f64; 8] = [1.0, 5.0, 15.0, 60.0, 120.0, 300.0, 900.0, 3600.0];

/// Item outcomes counted by `juru_items_total`, in the order shown.
pub const OUTCOMES: [&str; 5] = [
    state::DONE,
    state::BUSINESS_EXCEPTION,
    state::SYSTEM_EXCEPTION,
    state::NEEDS_VERIFICATION,
    state::SKIPPED,
];

/// Run states counted by `juru_runs_total` (every run that is not going on).
pub const RUN_STATES: [&str; 5] = ["finished", "failed", "cancelled", "interrupted", "closed"];

/// Run states after which a run never changes: its tally is kept.
const FINAL: [&str; 2] = ["finished", "closed"];

/// A cumulative histogram: `counts[i]` observations of at most `bounds[i]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Histogram {
    pub counts: [u64; 8],
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64; 8], v: f64) {
        for (c, b) in self.counts.iter_mut().zip(bounds) {
            if v <= *b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn add(&mut self, other: &Histogram) {
        for (c, o) in self.counts.iter_mut().zip(other.counts) {
            *c += o;
        }
        self.sum += other.sum;
        self.count += other.count;
    }
}

/// What one run adds to its bot's numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Tally {
    /// Ended items by outcome, in the order of [`OUTCOMES`].
    pub outcomes: [u64; 5],
    /// Seconds of the last attempt of each ended item that has both times.
    pub durations: Histogram,
}

/// The tallies of the runs that can no longer change, by run id.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    final_runs: Mutex<HashMap<String, Tally>>,
    /// Held while the store is read: scrapes are answered one at a time, so many at
    /// once (after a start, when every item is read) cost no more than one.
    one_at_a_time: tokio::sync::Mutex<()>,
}

/// Everything one scrape shows.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Scrape {
    pub agent: String,
    pub version: String,
    pub browsers_in_use: usize,
    pub browsers_max: usize,
    /// Messages in the outbox's `pending/` and `failed/`.
    pub outbox: Option<(usize, usize)>,
    /// `None` when the store could not be read.
    pub store: Option<StoreNumbers>,
}

/// The store's part of a scrape.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct StoreNumbers {
    pub bots: BTreeMap<String, BotNumbers>,
    pub schedules: BTreeMap<String, ScheduleNumbers>,
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct BotNumbers {
    /// Runs not going on, by state.
    pub runs: BTreeMap<String, u64>,
    pub running: u64,
    pub tally: Tally,
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct ScheduleNumbers {
    /// Fires whose run started more than [`super::trends::LATE_AFTER_SECS`] late.
    pub late: u64,
    pub lateness: Histogram,
}

fn parse(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn seconds_between(from: &str, to: &str) -> Option<f64> {
    let (a, b) = (parse(from)?, parse(to)?);
    Some(((b - a).num_milliseconds() as f64 / 1000.0).max(0.0))
}

/// The tally of each run from its ended items.
fn tally(items: &[MetricItem]) -> HashMap<String, Tally> {
    let mut out: HashMap<String, Tally> = HashMap::new();
    for i in items {
        let t = out.entry(i.run_id.clone()).or_default();
        if let Some(k) = OUTCOMES.iter().position(|o| *o == i.state) {
            t.outcomes[k] += 1;
        }
        if let (Some(a), Some(b)) = (&i.started_at, &i.finished_at) {
            if let Some(secs) = seconds_between(a, b) {
                t.durations.observe(&ITEM_BUCKETS, secs);
            }
        }
    }
    out
}

impl StoreNumbers {
    /// Adds up `runs`; a run's tally comes from `fresh` (its items just read) or
    /// the cache. Final runs of `fresh` go into the cache.
    fn build(runs: &[MetricRun], mut fresh: HashMap<String, Tally>, cache: &Cache) -> Self {
        let mut kept = lock(&cache.final_runs);
        let mut out = StoreNumbers::default();
        for r in runs {
            let b = out.bots.entry(r.bot.clone()).or_default();
            if r.state == "running" {
                b.running += 1;
            } else {
                *b.runs.entry(r.state.clone()).or_default() += 1;
            }
            let t = match kept.get(&r.id) {
                Some(t) => t.clone(),
                None => {
                    let t = fresh.remove(&r.id).unwrap_or_default();
                    if FINAL.contains(&r.state.as_str()) {
                        kept.insert(r.id.clone(), t.clone());
                    }
                    t
                }
            };
            for (a, n) in b.tally.outcomes.iter_mut().zip(t.outcomes) {
                *a += n;
            }
            b.tally.durations.add(&t.durations);
            for (schedule, due) in &r.fires {
                let s = out.schedules.entry(schedule.clone()).or_default();
                if let Some(late) = seconds_between(due, &r.started_at) {
                    s.lateness.observe(&LATENESS_BUCKETS, late);
                    if late > super::trends::LATE_AFTER_SECS as f64 {
                        s.late += 1;
                    }
                }
            }
        }
        out
    }
}

/// How many messages (`.eml` files) wait in one outbox folder.
fn messages_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(".eml")))
                .count()
        })
        .unwrap_or(0)
}

/// `GET /metrics`.
pub(super) async fn metrics(State(app): State<Shared>) -> Response {
    if !app.config.web.metrics {
        // The guard gives it the dashboard's page.
        return StatusCode::NOT_FOUND.into_response();
    }
    let outbox = app.paths.data.join(&app.config.mail.outbox);
    let counted = tokio::task::spawn_blocking(move || {
        (
            messages_in(&outbox.join("pending")),
            messages_in(&outbox.join("failed")),
        )
    })
    .await
    .ok();
    let _turn = app.metrics.one_at_a_time.lock().await;
    let shared = app.clone();
    let store = with_store(&app, move |st| {
        let runs = st.metric_runs()?;
        let todo: Vec<&str> = {
            let kept = lock(&shared.metrics.final_runs);
            runs.iter()
                .filter(|r| !kept.contains_key(&r.id))
                .map(|r| r.id.as_str())
                .collect()
        };
        let items = st.metric_items(&todo)?;
        Ok(StoreNumbers::build(&runs, tally(&items), &shared.metrics))
    })
    .await
    .ok();
    let scrape = Scrape {
        agent: app.config.agent_name.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        browsers_in_use: crate::browser::sessions_in_use(),
        browsers_max: app.config.max_browsers,
        outbox: counted,
        store,
    };
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], render(&scrape)).into_response()
}

/// A label value as the format wants it: `\`, `"` and line breaks escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A number as the format wants it.
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

struct Out(String);

impl Out {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], bounds: &[f64; 8], h: &Histogram) {
        for (b, c) in bounds.iter().zip(h.counts) {
            let le = num(*b);
            let mut l = labels.to_vec();
            l.push(("le", &le));
            self.sample(&format!("{name}_bucket"), &l, c);
        }
        let mut l = labels.to_vec();
        l.push(("le", "+Inf"));
        self.sample(&format!("{name}_bucket"), &l, h.count);
        // Sums of many millisecond times, without the float noise of adding them.
        self.sample(
            &format!("{name}_sum"),
            labels,
            num((h.sum * 1000.0).round() / 1000.0),
        );
        self.sample(&format!("{name}_count"), labels, h.count);
    }
}

/// The scrape in the text exposition format 0.0.4.
pub(crate) fn render(s: &Scrape) -> String {
    let mut o = Out(String::new());
    let agent = [("agent", s.agent.as_str())];
    o.head("juru_up", "gauge", "1 while juru serves its metrics.");
    o.sample("juru_up", &agent, 1);
    o.head(
        "juru_build_info",
        "gauge",
        "The version of juru that runs (always 1).",
    );
    o.sample(
        "juru_build_info",
        &[("agent", &s.agent), ("version", &s.version)],
        1,
    );
    o.head(
        "juru_browsers_in_use",
        "gauge",
        "Browser sessions open now in this process.",
    );
    o.sample("juru_browsers_in_use", &agent, s.browsers_in_use);
    o.head(
        "juru_browsers_max",
        "gauge",
        "[limits] max_browsers of agent.toml.",
    );
    o.sample("juru_browsers_max", &agent, s.browsers_max);
    if let Some((pending, failed)) = s.outbox {
        o.head(
            "juru_outbox_depth",
            "gauge",
            "Messages in the outbox: pending (waiting for delivery) and failed (refused, waiting for juru mail retry).",
        );
        o.sample(
            "juru_outbox_depth",
            &[("agent", &s.agent), ("state", "pending")],
            pending,
        );
        o.sample(
            "juru_outbox_depth",
            &[("agent", &s.agent), ("state", "failed")],
            failed,
        );
    }
    o.head(
        "juru_store_up",
        "gauge",
        "1 when the store could be read for this scrape; 0 leaves out the numbers from the store.",
    );
    o.sample("juru_store_up", &agent, u8::from(s.store.is_some()));
    let Some(st) = &s.store else {
        return o.0;
    };
    o.head(
        "juru_runs_total",
        "counter",
        "Runs that are not going on, by bot and state (whole history).",
    );
    for (bot, b) in &st.bots {
        let mut states: BTreeMap<&str, u64> = RUN_STATES.iter().map(|s| (*s, 0)).collect();
        for (state, n) in &b.runs {
            *states.entry(state.as_str()).or_default() += n;
        }
        for (state, n) in states {
            o.sample("juru_runs_total", &[("bot", bot), ("state", state)], n);
        }
    }
    o.head("juru_runs_running", "gauge", "Runs going on now, by bot.");
    for (bot, b) in &st.bots {
        o.sample("juru_runs_running", &[("bot", bot)], b.running);
    }
    o.head(
        "juru_items_total",
        "counter",
        "Ended items by bot and outcome (whole history).",
    );
    for (bot, b) in &st.bots {
        for (outcome, n) in OUTCOMES.iter().zip(b.tally.outcomes) {
            o.sample("juru_items_total", &[("bot", bot), ("outcome", outcome)], n);
        }
    }
    o.head(
        "juru_item_duration_seconds",
        "histogram",
        "Seconds of the last attempt of each ended item, by bot (whole history).",
    );
    for (bot, b) in &st.bots {
        o.histogram(
            "juru_item_duration_seconds",
            &[("bot", bot)],
            &ITEM_BUCKETS,
            &b.tally.durations,
        );
    }
    o.head(
        "juru_fires_late_total",
        "counter",
        "Schedule fires whose run started more than 120 s after the fire's time, by schedule.",
    );
    for (schedule, n) in &st.schedules {
        o.sample("juru_fires_late_total", &[("schedule", schedule)], n.late);
    }
    o.head(
        "juru_fire_lateness_seconds",
        "histogram",
        "Seconds from a schedule fire's time to the start of its run, by schedule.",
    );
    for (schedule, n) in &st.schedules {
        o.histogram(
            "juru_fire_lateness_seconds",
            &[("schedule", schedule)],
            &LATENESS_BUCKETS,
            &n.lateness,
        );
    }
    o.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, bot: &str, state: &str, fires: &[(&str, &str)]) -> MetricRun {
        MetricRun {
            id: id.into(),
            bot: bot.into(),
            state: state.into(),
            started_at: "2026-11-27T00:05:00+00:00".into(),
            fires: fires
                .iter()
                .map(|(s, at)| (s.to_string(), at.to_string()))
                .collect(),
        }
    }

    fn item(run: &str, state: &str, secs: Option<u32>) -> MetricItem {
        MetricItem {
            run_id: run.into(),
            state: state.into(),
            started_at: secs.map(|_| "2026-11-27T00:05:00+00:00".into()),
            finished_at: secs
                .map(|s| format!("2026-11-27T00:{:02}:{:02}.5+00:00", 5 + s / 60, s % 60)),
        }
    }

    #[test]
    fn runs_and_items_add_up_per_bot_and_final_runs_are_kept() {
        let cache = Cache::default();
        let runs = vec![
            run(
                "r1",
                "izin",
                "finished",
                &[("pagi", "2026-11-27T00:00:00+00:00")],
            ),
            run(
                "r2",
                "izin",
                "running",
                &[("pagi", "2026-11-27T00:04:59+00:00")],
            ),
            run("r3", "surat", "failed", &[]),
        ];
        let items = vec![
            item("r1", state::DONE, Some(0)),
            item("r1", state::DONE, Some(3)),
            item("r1", state::BUSINESS_EXCEPTION, Some(400)),
            item("r2", state::SYSTEM_EXCEPTION, None),
            item("r3", state::SKIPPED, Some(1)),
        ];
        let n = StoreNumbers::build(&runs, tally(&items), &cache);
        let izin = &n.bots["izin"];
        assert_eq!(izin.running, 1);
        assert_eq!(izin.runs.get("finished"), Some(&1));
        assert_eq!(izin.tally.outcomes, [2, 1, 1, 0, 0]);
        // 0.5 s, 3.5 s and 400.5 s: the last beyond every bucket.
        assert_eq!(izin.tally.durations.count, 3);
        assert_eq!(izin.tally.durations.counts, [1, 1, 2, 2, 2, 2, 2, 2]);
        assert!((izin.tally.durations.sum - 404.5).abs() < 1e-9);
        assert_eq!(n.bots["surat"].runs.get("failed"), Some(&1));
        // 300 s late (late) and 1 s late (on time).
        let pagi = &n.schedules["pagi"];
        assert_eq!(pagi.late, 1);
        assert_eq!(pagi.lateness.count, 2);
        assert_eq!(pagi.lateness.counts[0], 1);

        // Only the finished run is kept; its items need not be read again.
        assert_eq!(
            lock(&cache.final_runs).keys().collect::<Vec<_>>(),
            vec!["r1"]
        );
        let again = StoreNumbers::build(&runs, tally(&items[3..]), &cache);
        assert_eq!(again, n);
    }

    #[test]
    fn the_text_follows_the_exposition_format() {
        let cache = Cache::default();
        let runs = vec![run("r1", "iz\"in", "finished", &[])];
        let items = vec![item("r1", state::DONE, Some(2))];
        let s = Scrape {
            agent: "mesin-1".into(),
            version: "0.1.0".into(),
            browsers_in_use: 2,
            browsers_max: 4,
            outbox: Some((1, 0)),
            store: Some(StoreNumbers::build(&runs, tally(&items), &cache)),
        };
        let text = render(&s);
        for line in [
            "juru_up{agent=\"mesin-1\"} 1",
            "juru_build_info{agent=\"mesin-1\",version=\"0.1.0\"} 1",
            "juru_browsers_in_use{agent=\"mesin-1\"} 2",
            "juru_outbox_depth{agent=\"mesin-1\",state=\"pending\"} 1",
            "juru_store_up{agent=\"mesin-1\"} 1",
            "juru_runs_total{bot=\"iz\\\"in\",state=\"finished\"} 1",
            "juru_runs_total{bot=\"iz\\\"in\",state=\"failed\"} 0",
            "juru_items_total{bot=\"iz\\\"in\",outcome=\"done\"} 1",
            "juru_item_duration_seconds_bucket{bot=\"iz\\\"in\",le=\"2\"} 0",
            "juru_item_duration_seconds_bucket{bot=\"iz\\\"in\",le=\"5\"} 1",
            "juru_item_duration_seconds_bucket{bot=\"iz\\\"in\",le=\"+Inf\"} 1",
            "juru_item_duration_seconds_sum{bot=\"iz\\\"in\"} 2.5",
            "juru_item_duration_seconds_count{bot=\"iz\\\"in\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(text.contains("# TYPE juru_item_duration_seconds histogram\n"));
        assert!(text.ends_with('\n'));

        // Without the store, only this process's numbers.
        let text = render(&Scrape { store: None, ..s });
        assert!(text.contains("juru_store_up{agent=\"mesin-1\"} 0\n"));
        assert!(!text.contains("juru_runs_total"));
    }
}
