//! The fleet page (`/fleet`): the agents that work on this store (one on a single
//! machine, several when they share a PostgreSQL store), whether each is alive (its
//! lease held, its last heartbeat), its dashboard and the items it holds now; below,
//! the runs going on now with how many items each agent finished and holds in each.
//! Any logged-in user may read it; it changes nothing.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::pages::{enc, esc, layout, local, t, to_login, with_store};
use super::Shared;
use crate::config::Language;
use crate::report::human_duration;
use crate::store::fleet::{AgentRecord, LEASE};
use crate::store::{state, ItemRecord, RunRecord};

/// Items of one run held by one agent: finished (in any end state) and in progress.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Share {
    pub finished: usize,
    pub in_progress: usize,
}

/// The items of a run per agent that took them (`None`: no agent recorded);
/// pending items are nobody's yet.
pub(super) fn shares(items: &[ItemRecord]) -> BTreeMap<Option<String>, Share> {
    let mut out: BTreeMap<Option<String>, Share> = BTreeMap::new();
    for i in items {
        let share = match i.state.as_str() {
            state::PENDING => continue,
            state::IN_PROGRESS => &mut out.entry(i.agent.clone()).or_default().in_progress,
            _ => &mut out.entry(i.agent.clone()).or_default().finished,
        };
        *share += 1;
    }
    out
}

/// `http://…` for an agent's dashboard address (`127.0.0.1:8080` or a URL).
fn web_link(web: &str) -> String {
    let href = if web.starts_with("http://") || web.starts_with("https://") {
        web.to_string()
    } else {
        format!("http://{web}")
    };
    format!("<a href=\"{}\">{}</a>", esc(&href), esc(web))
}

/// Seconds from `at` (RFC 3339) until now.
fn seconds_since(at: &str) -> Option<u64> {
    let at = DateTime::parse_from_rfc3339(at).ok()?;
    Some((Utc::now() - at.with_timezone(&Utc)).num_seconds().max(0) as u64)
}

pub(super) async fn fleet_page(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let Some(s) = app.session(&headers) else {
        return to_login();
    };
    let en = s.english;
    let found = with_store(&app, move |st| {
        let agents = st.agents()?;
        let mut running = Vec::new();
        for r in st.runs(None, 500)? {
            if r.shown_state() == "running" {
                let items = st.items(&r.id)?;
                running.push((r, items));
            }
        }
        Ok((agents, running))
    })
    .await;
    let (agents, running): (Vec<AgentRecord>, Vec<(RunRecord, Vec<ItemRecord>)>) = match found {
        Ok(v) => v,
        Err(r) => return r,
    };
    let me = &app.config.agent_name;
    let language = if en { Language::En } else { Language::Id };
    let mut body = String::new();
    let _ = write!(body, "<h2>{}</h2>", t(en, "Agen", "Agents"));
    if agents.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\" id=\"agents\">{}</p>",
            t(
                en,
                "Belum ada agen yang tercatat: agen tercatat saat `juru agent` berjalan.",
                "No agent recorded yet: an agent is recorded while `juru agent` runs."
            )
        );
    } else {
        let _ = write!(
            body,
            "<table id=\"agents\"><tr><th>{}</th><th>Host</th><th>PID</th><th>Status</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            t(en, "Nama", "Name"),
            t(en, "Detak terakhir", "Last heartbeat"),
            t(en, "Dasbor", "Dashboard"),
            t(en, "Item diproses", "Items in progress"),
        );
        for a in &agents {
            let this = if &a.name == me {
                format!(
                    " <span class=\"muted this\">({})</span>",
                    t(en, "ini", "this one")
                )
            } else {
                String::new()
            };
            let (class, alive) = if a.alive {
                ("ok", t(en, "hidup", "alive"))
            } else {
                ("bad", t(en, "tidak hidup", "not alive"))
            };
            let since = seconds_since(&a.heartbeat_at);
            // Alive without a recent beat: an agent on this machine with a store of
            // its own (SQLite) beats no lease; its process is asked instead.
            let beat = if a.alive && since.is_some_and(|secs| secs > LEASE.as_secs()) {
                format!(
                    "<span class=\"muted\">{}</span>",
                    t(
                        en,
                        "tanpa detak: prosesnya berjalan di mesin ini",
                        "no heartbeat: its process runs on this machine"
                    )
                )
            } else {
                let ago = since
                    .map(|secs| {
                        format!(
                            " ({} {})",
                            human_duration(secs, language),
                            t(en, "lalu", "ago")
                        )
                    })
                    .unwrap_or_default();
                format!("{}{ago}", esc(&local(&app, &a.heartbeat_at)))
            };
            let _ = write!(
                body,
                "<tr id=\"agent-{id}\"><td>{name}{this}</td><td>{host}</td><td>{pid}</td><td class=\"{class}\">{alive}</td><td>{beat}</td><td>{web}</td><td>{held}</td></tr>",
                id = enc(&a.name),
                name = esc(&a.name),
                host = esc(&a.host),
                pid = a.pid,
                web = a.web.as_deref().map(web_link).unwrap_or_default(),
                held = a.items_in_progress,
            );
        }
        body.push_str("</table>");
    }
    let _ = write!(
        body,
        "<h2>{}</h2>",
        t(en, "Proses yang sedang berjalan", "Runs in progress")
    );
    if running.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\" id=\"running\">{}</p>",
            t(en, "Tidak ada proses yang berjalan.", "No run in progress.")
        );
    } else {
        let _ = write!(
            body,
            "<table id=\"running\"><tr><th>{}</th><th>Bot</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            t(en, "Proses", "Run"),
            t(en, "Selesai/total", "Done/total"),
            t(en, "Agen", "Agent"),
            t(en, "Item selesai", "Items finished"),
            t(en, "Item diproses", "Items in progress"),
        );
        for (r, items) in &running {
            let shares = shares(items);
            let rows = shares.len().max(1);
            let _ = write!(
                body,
                "<tr id=\"run-{rid}\"><td rowspan=\"{rows}\"><a href=\"/runs/{rurl}\">{rid}</a></td><td rowspan=\"{rows}\">{bot}</td><td rowspan=\"{rows}\">{finished}/{total}</td>",
                rid = esc(&r.id),
                rurl = enc(&r.id),
                bot = esc(&r.bot),
                finished = r.total - r.pending,
                total = r.total,
            );
            if shares.is_empty() {
                body.push_str("<td class=\"muted\">-</td><td>0</td><td>0</td></tr>");
            }
            for (n, (agent, share)) in shares.iter().enumerate() {
                if n > 0 {
                    body.push_str("<tr>");
                }
                let name = match agent {
                    Some(a) => esc(a),
                    None => t(en, "(tidak tercatat)", "(not recorded)").to_string(),
                };
                let _ = write!(
                    body,
                    "<td class=\"agent\">{name}</td><td>{}</td><td>{}</td></tr>",
                    share.finished, share.in_progress
                );
            }
        }
        body.push_str("</table>");
    }
    layout(&s, "/fleet", t(en, "Armada", "Fleet"), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(state: &str, agent: Option<&str>) -> ItemRecord {
        ItemRecord {
            idx: 0,
            row_number: 2,
            state: state.into(),
            data: "[]".into(),
            outputs: "{}".into(),
            reason: None,
            kind: None,
            screenshot: None,
            page_url: None,
            page_title: None,
            log: None,
            attempts: 0,
            worker: None,
            submitted: false,
            commands: 0,
            finished_at: None,
            agent: agent.map(str::to_string),
            started_at: None,
        }
    }

    #[test]
    fn items_are_counted_per_agent_and_pending_ones_for_nobody() {
        let items = [
            item(state::DONE, Some("a")),
            item(state::BUSINESS_EXCEPTION, Some("a")),
            item(state::IN_PROGRESS, Some("a")),
            item(state::DONE, Some("b")),
            item(state::PENDING, None),
            item(state::DONE, None),
        ];
        let s = shares(&items);
        assert_eq!(
            s.get(&Some("a".into())),
            Some(&Share {
                finished: 2,
                in_progress: 1
            })
        );
        assert_eq!(
            s.get(&Some("b".into())),
            Some(&Share {
                finished: 1,
                in_progress: 0
            })
        );
        assert_eq!(
            s.get(&None),
            Some(&Share {
                finished: 1,
                in_progress: 0
            })
        );
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn a_dashboard_address_becomes_an_escaped_http_link() {
        assert_eq!(
            web_link("10.0.0.5:8080"),
            "<a href=\"http://10.0.0.5:8080\">10.0.0.5:8080</a>"
        );
        assert_eq!(
            web_link("https://x/\"><b>"),
            "<a href=\"https://x/&quot;&gt;&lt;b&gt;\">https://x/&quot;&gt;&lt;b&gt;</a>"
        );
    }
}
