//! Warns before a calendar of non-working days runs out of holidays.
//!
//! A calendar lists the holidays of the years someone typed in (the government's
//! decree comes out a few months ahead); in a year it does not list, its schedules
//! skip weekends only and run on New Year's Day and every other holiday. From
//! [`GAP_WARNING_DAYS`](crate::schedule::GAP_WARNING_DAYS) before the end of the last listed year, the agent logs a
//! warning for each calendar an enabled schedule uses ([`holiday_gaps`]) and mails
//! the `[notify] supervisors` of the bots of those schedules, once per calendar and
//! missing year: the store's `notices` table remembers what was sent, across
//! restarts and agents. The mail goes to the outbox like every other mail.
//!
//! The watch is one background task ([`start`]): it looks at start-up, after every
//! successful reload (SIGHUP or a changed config file, loaded and validated the way
//! the agent does) and each day just after midnight in the agent's time zone, and
//! sleeps otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{Datelike, NaiveDate, Utc};

use super::{Agent, Loaded, Paths};
use crate::config::{AgentConfig, Language, Schedules};
use crate::mail::{Mail, Outbox};
use crate::schedule::{holiday_gaps, instant_of, HolidayGap};
use crate::store::Store;

/// What the watch needs of the loaded configuration.
struct Facts {
    config: AgentConfig,
    schedules: Schedules,
    /// `[notify] supervisors` by bot name.
    supervisors: BTreeMap<String, Vec<String>>,
}

impl Facts {
    fn of(loaded: &Loaded) -> Facts {
        Facts {
            config: loaded.config.clone(),
            schedules: loaded.schedules.clone(),
            supervisors: loaded
                .bots
                .iter()
                .map(|(name, bot)| (name.clone(), bot.supervisors.clone()))
                .collect(),
        }
    }
}

/// One calendar's warning: the log line and the mail to the supervisors.
#[derive(Debug, Clone)]
struct Notice {
    gap: HolidayGap,
    /// The warning line (as `juru check` prints it).
    message: String,
    /// The store keys that say it was sent: `calendar:<name>:<year>`, one a year.
    keys: Vec<String>,
    /// Its mail; `None` when no bot of its schedules names supervisors.
    mail: Option<Mail>,
    /// The bots of its schedules (for the log when nobody can be mailed).
    bots: Vec<String>,
}

/// Starts the calendar watch of the agent in the background (see the module docs).
pub(super) fn start(agent: &Agent) {
    let paths = agent.paths.clone();
    let store = agent.store.clone();
    let facts = Facts::of(&agent.loaded);
    let watcher = agent.watcher();
    tokio::spawn(watch(paths, store, facts, watcher));
}

/// What woke the watch.
enum Wake {
    /// A new day began.
    Day,
    /// SIGHUP or a changed config file.
    Reload,
}

async fn watch(
    paths: Paths,
    store: Arc<Mutex<Store>>,
    mut facts: Facts,
    mut watcher: super::wake::Watcher,
) {
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut seen = super::fingerprint(&paths.config);
    let mut look = true;
    loop {
        if look {
            check(&paths, &store, &facts).await;
        }
        let day = next_day(facts.config.time_zone);
        let wake = loop {
            tokio::select! {
                _ = tokio::time::sleep_until(day) => break Wake::Day,
                Some(()) = async { hup.as_mut()?.recv().await } => {
                    seen = super::fingerprint(&paths.config);
                    break Wake::Reload;
                }
                changes = watcher.changed() => {
                    if !changes.config {
                        continue;
                    }
                    tokio::time::sleep(super::SETTLE).await;
                    let now_seen = super::fingerprint(&paths.config);
                    if now_seen != seen {
                        seen = now_seen;
                        break Wake::Reload;
                    }
                }
            }
        };
        look = match wake {
            Wake::Day => true,
            Wake::Reload => {
                let p = paths.clone();
                match tokio::task::spawn_blocking(move || super::load(&p)).await {
                    Ok(Ok(loaded)) => {
                        facts = Facts::of(&loaded);
                        true
                    }
                    // The agent refuses it too and keeps the old configuration.
                    _ => false,
                }
            }
        };
    }
}

/// One minute past the next midnight in `zone`.
fn next_day(zone: chrono_tz::Tz) -> tokio::time::Instant {
    let today = Utc::now().with_timezone(&zone).date_naive();
    let wait = today
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 1, 0))
        .map(|t| instant_of(zone, t) - Utc::now())
        .and_then(|d| d.to_std().ok())
        .unwrap_or(std::time::Duration::from_secs(3600));
    tokio::time::Instant::now() + wait
}

/// Logs the warnings of today and mails those not sent yet.
async fn check(paths: &Paths, store: &Arc<Mutex<Store>>, facts: &Facts) {
    let today = Utc::now()
        .with_timezone(&facts.config.time_zone)
        .date_naive();
    let notices = notices(facts, &paths.config, today);
    if notices.is_empty() {
        return;
    }
    for n in &notices {
        tracing::warn!("{}", n.message);
    }
    let outbox = Outbox::new(paths.data.join(&facts.config.mail.outbox));
    let from = facts.config.mail.from.clone();
    let results = super::db(store, move |s| {
        Ok(notices
            .iter()
            .map(|n| (n.clone(), deliver(s, &outbox, &from, n)))
            .collect::<Vec<_>>())
    })
    .await;
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("calendar warning: {e}");
            return;
        }
    };
    for (n, result) in results {
        match (result, &n.mail) {
            (Ok(Some(id)), Some(m)) => tracing::info!(
                calendar = %n.gap.calendar,
                mail = %id,
                "calendar warning mailed to {}",
                m.to.join(", ")
            ),
            (Ok(None), Some(_)) => {
                tracing::debug!(calendar = %n.gap.calendar, "calendar warning already mailed")
            }
            (Ok(_), None) => tracing::info!(
                calendar = %n.gap.calendar,
                "calendar warning not mailed: no [notify] supervisors in bot.toml of {}",
                n.bots.join(", ")
            ),
            (Err(e), _) => tracing::error!(calendar = %n.gap.calendar, "calendar warning: {e}"),
        }
    }
}

/// The warnings for the enabled schedules of `facts` on `today`, with their mail.
fn notices(facts: &Facts, config_dir: &Path, today: NaiveDate) -> Vec<Notice> {
    let enabled: Vec<_> = facts
        .schedules
        .schedules
        .iter()
        .filter(|s| s.enabled)
        .collect();
    let bot_of: BTreeMap<&str, &str> = enabled
        .iter()
        .map(|s| (s.name.as_str(), s.bot.as_str()))
        .collect();
    holiday_gaps(
        enabled.iter().map(|s| (s.name.as_str(), &s.schedule)),
        today,
    )
    .into_iter()
    .map(|gap| {
        let file = calendar_file(config_dir, &gap.calendar);
        let message = gap.message(&file.display().to_string());
        let mut bots: Vec<String> = Vec::new();
        let mut to: Vec<String> = Vec::new();
        for (schedule, _) in &gap.schedules {
            let Some(bot) = bot_of.get(schedule.as_str()) else {
                continue;
            };
            if !bots.iter().any(|b| b == bot) {
                bots.push(bot.to_string());
            }
            for s in facts.supervisors.get(*bot).into_iter().flatten() {
                if !to.contains(s) {
                    to.push(s.clone());
                }
            }
        }
        let keys = gap
            .missing
            .iter()
            .map(|y| format!("calendar:{}:{y}", gap.calendar))
            .collect();
        let mail =
            (!to.is_empty()).then(|| mail_for(&gap, &file, &bot_of, facts.config.language, to));
        Notice {
            gap,
            message,
            keys,
            mail,
            bots,
        }
    })
    .collect()
}

/// `<config>/calendars/<name>.toml`.
fn calendar_file(config_dir: &Path, name: &str) -> PathBuf {
    config_dir.join("calendars").join(format!("{name}.toml"))
}

/// Claims the notice's keys and puts its mail in the outbox; the mail's id, or
/// `None` when every key was claimed before (it was sent) or there is no mail. A
/// mail that cannot be queued releases its keys, so the next look tries again.
fn deliver(
    store: &Store,
    outbox: &Outbox,
    from: &str,
    notice: &Notice,
) -> Result<Option<String>, String> {
    let Some(mail) = &notice.mail else {
        return Ok(None);
    };
    let mut claimed = Vec::new();
    for key in &notice.keys {
        match store.claim_notice(key) {
            Ok(true) => claimed.push(key),
            Ok(false) => {}
            Err(e) => {
                release(store, &claimed);
                return Err(e.to_string());
            }
        }
    }
    if claimed.is_empty() {
        return Ok(None);
    }
    let last = notice.gap.missing.last().copied().unwrap_or_default();
    let name = format!("calendar-{}-{last}", notice.gap.calendar);
    match outbox.enqueue(from, mail, &name, "calendar", None) {
        Ok(entry) => Ok(Some(entry.id)),
        Err(e) => {
            release(store, &claimed);
            Err(format!("cannot queue the mail: {e}"))
        }
    }
}

fn release(store: &Store, keys: &[&String]) {
    for key in keys {
        if let Err(e) = store.release_notice(key) {
            tracing::error!("{e}");
        }
    }
}

/// The supervisors' mail about a gap, in the agent's language.
fn mail_for(
    gap: &HolidayGap,
    file: &Path,
    bot_of: &BTreeMap<&str, &str>,
    language: Language,
    to: Vec<String>,
) -> Mail {
    let file = file.display();
    let name = &gap.calendar;
    let items: Vec<String> = gap
        .schedules
        .iter()
        .map(|(schedule, day)| {
            let bot = bot_of.get(schedule.as_str()).copied().unwrap_or("?");
            match language {
                Language::Id => format!("{schedule} (bot {bot}), mulai {}", day_id(*day)),
                Language::En => format!("{schedule} (bot {bot}), from {}", day.format("%-d %B %Y")),
            }
        })
        .collect();
    let deadline = NaiveDate::from_ymd_opt(gap.last_listed, 12, 31);
    let (subject, intro, why, todo, once) = match language {
        Language::Id => {
            let years = gap.years().replace(" and ", " dan ");
            let when = match deadline.filter(|_| !gap.overdue) {
                Some(d) => format!("sebelum {}", day_id(d)),
                None => "sekarang juga".to_string(),
            };
            (
                format!("juru: kalender \"{name}\" belum memuat hari libur {years}"),
                format!("Kalender \"{name}\" ({file}) belum memuat hari libur tahun {years}."),
                "Tanpa daftar itu, jadwal berikut hanya melewati akhir pekan dan tetap berjalan pada hari libur nasional dan cuti bersama:".to_string(),
                format!("Tambahkan hari libur nasional dan cuti bersama {years} (SKB 3 Menteri) ke {file} {when}. Agen juru membaca berkas itu kembali dengan sendirinya."),
                "Pesan ini dikirim sekali untuk kalender dan tahun ini.".to_string(),
            )
        }
        Language::En => {
            let years = gap.years();
            let when = match deadline.filter(|_| !gap.overdue) {
                Some(d) => format!("before {}", d.format("%-d %B %Y")),
                None => "now".to_string(),
            };
            (
                format!("juru: calendar \"{name}\" lists no holidays for {years}"),
                format!("Calendar \"{name}\" ({file}) lists no holidays for {years}."),
                "Without them, these schedules skip weekends only and run on the national holidays and cuti bersama:".to_string(),
                format!("Add the {years} national holidays and cuti bersama (SKB 3 Menteri) to {file} {when}. The juru agent reads the file again by itself."),
                "This message is sent once for this calendar and year.".to_string(),
            )
        }
    };
    let list: String = items.iter().map(|i| format!("- {i}\n")).collect();
    let text = format!("{intro}\n\n{why}\n{list}\n{todo}\n\n{once}\n");
    let html_list: String = items
        .iter()
        .map(|i| format!("<li>{}</li>", esc(i)))
        .collect();
    let html = format!(
        "<!DOCTYPE html>\n<html><body>\n<p>{}</p>\n<p>{}</p>\n<ul>{html_list}</ul>\n<p>{}</p>\n<p>{}</p>\n</body></html>\n",
        esc(&intro),
        esc(&why),
        esc(&todo),
        esc(&once)
    );
    Mail {
        to,
        subject,
        text,
        html,
        ..Mail::default()
    }
}

/// `1 Januari 2027`.
fn day_id(d: NaiveDate) -> String {
    const MONTHS: [&str; 12] = [
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ];
    format!("{} {} {}", d.day(), MONTHS[d.month0() as usize], d.year())
}

/// HTML-escapes text.
fn esc(s: &str) -> String {
    crate::report::escape_html(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail;

    /// A config folder with the 2026-only calendar `id-kerja`, schedules over it
    /// (one disabled) and a calendar no schedule uses.
    fn facts(dir: &Path, language: &str) -> Facts {
        let write = |rel: &str, text: &str| {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write(
            "calendars/id-kerja.toml",
            "[holidays]\n2026-01-01 = \"Tahun Baru\"\n2026-12-25 = \"Natal\"\n",
        );
        write(
            "calendars/lama.toml",
            "[holidays]\n2024-01-01 = \"Tahun Baru\"\n",
        );
        write(
            "schedules.toml",
            "[izin-pagi]\nbot = \"izin\"\ncron = \"30 7 * * 1-5\"\ncalendar = \"id-kerja\"\n\
             [rekap]\nbot = \"rekap\"\ncron = \"0 8 1 * *\"\ncalendar = \"id-kerja\"\non_holiday = \"next_working_day\"\n\
             [lama]\nbot = \"izin\"\ncron = \"0 9 * * 1\"\ncalendar = \"lama\"\nenabled = false\n",
        );
        let config =
            AgentConfig::parse("agent.toml", &format!("language = \"{language}\"\n")).unwrap();
        let schedules = Schedules::load(dir, config.time_zone, None).unwrap();
        Facts {
            config,
            schedules,
            supervisors: BTreeMap::from([
                ("izin".to_string(), vec!["kabid@example.go.id".to_string()]),
                (
                    "rekap".to_string(),
                    vec![
                        "kabid@example.go.id".to_string(),
                        "sekretaris@example.go.id".to_string(),
                    ],
                ),
            ]),
        }
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn only_calendars_of_enabled_schedules_are_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let facts = facts(dir.path(), "en");
        let notices = notices(&facts, dir.path(), date("2026-11-29"));
        assert_eq!(notices.len(), 1, "{notices:?}");
        let n = &notices[0];
        assert_eq!(n.gap.calendar, "id-kerja");
        assert_eq!(n.keys, vec!["calendar:id-kerja:2027".to_string()]);
        assert!(
            n.message.starts_with(&format!(
                "{}: calendar \"id-kerja\" lists no holidays for 2027; schedule \"izin-pagi\" would run on 1 January 2027, schedule \"rekap\" on 1 January 2027",
                dir.path().join("calendars/id-kerja.toml").display()
            )),
            "{}",
            n.message
        );
        let mail = n.mail.as_ref().unwrap();
        assert_eq!(
            mail.to,
            vec!["kabid@example.go.id", "sekretaris@example.go.id"]
        );
        assert_eq!(
            mail.subject,
            "juru: calendar \"id-kerja\" lists no holidays for 2027"
        );
        assert!(
            mail.text
                .contains("- izin-pagi (bot izin), from 1 January 2027\n"),
            "{}",
            mail.text
        );
        assert!(
            mail.text.contains("before 31 December 2026"),
            "{}",
            mail.text
        );
        assert!(mail
            .html
            .contains("<li>rekap (bot rekap), from 1 January 2027</li>"));
        // Far from the end of the year: nothing.
        assert!(super::notices(&facts, dir.path(), date("2026-06-01")).is_empty());
    }

    #[test]
    fn the_mail_speaks_indonesian_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let facts = facts(dir.path(), "id");
        let notices = notices(&facts, dir.path(), date("2026-11-29"));
        let mail = notices[0].mail.as_ref().unwrap();
        assert_eq!(
            mail.subject,
            "juru: kalender \"id-kerja\" belum memuat hari libur 2027"
        );
        assert!(
            mail.text
                .contains("- izin-pagi (bot izin), mulai 1 Januari 2027\n"),
            "{}",
            mail.text
        );
        assert!(
            mail.text.contains("sebelum 31 Desember 2026"),
            "{}",
            mail.text
        );
    }

    #[test]
    fn the_warning_is_mailed_once_per_calendar_and_year() {
        let dir = tempfile::tempdir().unwrap();
        let facts = facts(dir.path(), "id");
        let store = Store::open(dir.path().join("var/juru.db")).unwrap();
        let outbox = Outbox::new(dir.path().join("var/outbox"));
        let from = "juru <juru@localhost>";
        let first = notices(&facts, dir.path(), date("2026-11-29"));
        let id = deliver(&store, &outbox, from, &first[0]).unwrap();
        assert_eq!(id.as_deref(), Some("calendar-id-kerja-2027"));
        // The next day, after a restart (another connection to the store): not again.
        let again = notices(&facts, dir.path(), date("2026-11-30"));
        let other = Store::open(dir.path().join("var/juru.db")).unwrap();
        assert_eq!(deliver(&other, &outbox, from, &again[0]).unwrap(), None);
        let pending = outbox.entries(mail::Folder::Pending).unwrap();
        assert_eq!(pending.len(), 1, "{pending:?}");
        assert_eq!(pending[0].kind, "calendar");
        assert_eq!(
            pending[0].to,
            vec!["kabid@example.go.id", "sekretaris@example.go.id"]
        );
        let eml = std::fs::read_to_string(
            dir.path()
                .join("var/outbox/pending/calendar-id-kerja-2027.eml"),
        )
        .unwrap();
        assert!(eml.contains("To: kabid@example.go.id"), "{eml}");
    }

    #[test]
    fn without_supervisors_nothing_is_claimed_or_queued() {
        let dir = tempfile::tempdir().unwrap();
        let mut facts = facts(dir.path(), "en");
        facts.supervisors.clear();
        let store = Store::open(dir.path().join("var/juru.db")).unwrap();
        let outbox = Outbox::new(dir.path().join("var/outbox"));
        let n = notices(&facts, dir.path(), date("2026-11-29"));
        assert!(n[0].mail.is_none());
        assert_eq!(
            deliver(&store, &outbox, "juru@localhost", &n[0]).unwrap(),
            None
        );
        assert_eq!(store.notice_sent("calendar:id-kerja:2027").unwrap(), None);
    }

    #[test]
    fn a_mail_that_cannot_be_queued_is_tried_again() {
        let dir = tempfile::tempdir().unwrap();
        let facts = facts(dir.path(), "en");
        let store = Store::open(dir.path().join("var/juru.db")).unwrap();
        // The outbox is a file, so nothing can be written under it.
        std::fs::write(dir.path().join("not-a-folder"), "").unwrap();
        let broken = Outbox::new(dir.path().join("not-a-folder"));
        let n = notices(&facts, dir.path(), date("2026-11-29"));
        assert!(deliver(&store, &broken, "juru@localhost", &n[0]).is_err());
        assert_eq!(store.notice_sent("calendar:id-kerja:2027").unwrap(), None);
        let outbox = Outbox::new(dir.path().join("var/outbox"));
        assert!(deliver(&store, &outbox, "juru@localhost", &n[0])
            .unwrap()
            .is_some());
    }
}
