//! What a finished run leaves for people: `output.xlsx` (every input row with its
//! status, outputs and message), `exceptions.xlsx` (the items a person must look at,
//! and a summary sheet) and the summary mail, in Indonesian or English.
//!
//! Pure functions from a [`RunReport`] to sheets and mail text; writing and sending
//! is the caller's.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::config::Language;
use crate::mail::Mail;
use crate::sheet::{Cell, OutRow, OutSheet, Tone};

/// How one item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Business,
    System,
    /// Not processed: the run stopped before this item.
    Pending,
}

/// One item of a finished run.
#[derive(Debug, Clone)]
pub struct ItemReport {
    /// Row number in the input sheet.
    pub row: u32,
    /// The input cells, aligned with [`RunReport::headers`].
    pub cells: Vec<Cell>,
    pub outcome: Outcome,
    pub outputs: Vec<(String, Cell)>,
    pub reason: Option<String>,
    /// Screenshot path relative to the run folder.
    pub screenshot: Option<String>,
    pub finished_at: DateTime<Utc>,
}

/// A finished (or stopped) run, as the report sees it.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub run_id: String,
    pub bot: String,
    pub description: String,
    pub input: String,
    pub headers: Vec<String>,
    pub items: Vec<ItemReport>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Why the run stopped early, if it did.
    pub error: Option<String>,
    pub time_zone: chrono_tz::Tz,
    pub language: Language,
}

/// Counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub done: usize,
    pub business: usize,
    pub system: usize,
    pub pending: usize,
}

impl Counts {
    pub fn exceptions(&self) -> usize {
        self.business + self.system
    }
}

struct Words {
    status: &'static str,
    message: &'static str,
    done: &'static str,
    business: &'static str,
    system: &'static str,
    pending: &'static str,
    row: &'static str,
    kind: &'static str,
    reason: &'static str,
    time: &'static str,
    screenshot: &'static str,
    exceptions_sheet: &'static str,
    summary_sheet: &'static str,
    output_sheet: &'static str,
}

const ID: Words = Words {
    status: "Status",
    message: "Keterangan",
    done: "Selesai",
    business: "Pengecualian bisnis",
    system: "Pengecualian sistem",
    pending: "Belum diproses",
    row: "Baris",
    kind: "Jenis",
    reason: "Alasan",
    time: "Waktu",
    screenshot: "Tangkapan Layar",
    exceptions_sheet: "Pengecualian",
    summary_sheet: "Ringkasan",
    output_sheet: "Hasil",
};

const EN: Words = Words {
    status: "Status",
    message: "Message",
    done: "Done",
    business: "Business exception",
    system: "System exception",
    pending: "Not processed",
    row: "Row",
    kind: "Kind",
    reason: "Reason",
    time: "Time",
    screenshot: "Screenshot",
    exceptions_sheet: "Exceptions",
    summary_sheet: "Summary",
    output_sheet: "Output",
};

impl RunReport {
    fn words(&self) -> &'static Words {
        match self.language {
            Language::Id => &ID,
            Language::En => &EN,
        }
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            total: self.items.len(),
            ..Counts::default()
        };
        for item in &self.items {
            match item.outcome {
                Outcome::Done => c.done += 1,
                Outcome::Business => c.business += 1,
                Outcome::System => c.system += 1,
                Outcome::Pending => c.pending += 1,
            }
        }
        c
    }

    fn status(&self, outcome: Outcome) -> &'static str {
        let w = self.words();
        match outcome {
            Outcome::Done => w.done,
            Outcome::Business => w.business,
            Outcome::System => w.system,
            Outcome::Pending => w.pending,
        }
    }

    fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.time_zone)
            .format("%d/%m/%Y %H:%M:%S %Z")
            .to_string()
    }

    fn duration(&self) -> String {
        let secs = (self.finished_at - self.started_at)
            .num_milliseconds()
            .max(0) as f64
            / 1000.0;
        if secs < 60.0 {
            format!("{secs:.1} s")
        } else {
            format!("{}m {:02}s", (secs / 60.0) as u64, (secs % 60.0) as u64)
        }
    }

    /// Output column names in the order the script first set them.
    fn output_columns(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for item in &self.items {
            for (name, _) in &item.outputs {
                if !names.contains(name) && !self.headers.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        names
    }

    /// `output.xlsx`: every input row in input order, then status, outputs, message.
    pub fn output_sheet(&self) -> OutSheet {
        let w = self.words();
        let outputs = self.output_columns();
        let mut headers = self.headers.clone();
        let status_col = headers.len();
        headers.push(w.status.into());
        headers.extend(outputs.iter().cloned());
        headers.push(w.message.into());
        let rows = self
            .items
            .iter()
            .map(|item| {
                let mut cells = item.cells.clone();
                cells.resize(self.headers.len(), Cell::Empty);
                cells.push(Cell::Text(self.status(item.outcome).into()));
                for name in &outputs {
                    let value = item
                        .outputs
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, c)| c.clone())
                        .unwrap_or(Cell::Empty);
                    cells.push(value);
                }
                cells.push(item.reason.clone().map(Cell::Text).unwrap_or(Cell::Empty));
                OutRow {
                    cells,
                    tone: Some(tone(item.outcome)),
                }
            })
            .collect();
        OutSheet {
            name: w.output_sheet.into(),
            headers,
            rows,
            tone_column: Some(status_col),
        }
    }

    /// `exceptions.xlsx`: one row per failed item, then the run summary sheet.
    pub fn exception_sheets(&self) -> Vec<OutSheet> {
        let w = self.words();
        let mut headers: Vec<String> = vec![
            w.row.into(),
            w.kind.into(),
            w.reason.into(),
            w.time.into(),
            w.screenshot.into(),
        ];
        headers.extend(self.headers.iter().cloned());
        let rows = self
            .items
            .iter()
            .filter(|i| matches!(i.outcome, Outcome::Business | Outcome::System))
            .map(|item| {
                let mut cells = vec![
                    Cell::Int(item.row as i64),
                    Cell::Text(self.status(item.outcome).into()),
                    Cell::Text(item.reason.clone().unwrap_or_default()),
                    Cell::Text(self.local(item.finished_at)),
                    match &item.screenshot {
                        Some(path) => Cell::Link {
                            target: path.clone(),
                            text: path.clone(),
                        },
                        None => Cell::Empty,
                    },
                ];
                let mut data = item.cells.clone();
                data.resize(self.headers.len(), Cell::Empty);
                cells.extend(data);
                OutRow {
                    cells,
                    tone: Some(tone(item.outcome)),
                }
            })
            .collect();
        let exceptions = OutSheet {
            name: w.exceptions_sheet.into(),
            headers,
            rows,
            tone_column: Some(1),
        };
        let summary = OutSheet {
            name: w.summary_sheet.into(),
            headers: vec!["".into(), "".into()],
            rows: self
                .summary_lines()
                .into_iter()
                .map(|(k, v)| OutRow {
                    cells: vec![Cell::Text(k), v],
                    tone: None,
                })
                .collect(),
            tone_column: None,
        };
        vec![exceptions, summary]
    }

    fn summary_lines(&self) -> Vec<(String, Cell)> {
        let c = self.counts();
        let id = self.language == Language::Id;
        let l = |id_text: &str, en: &str| {
            if id {
                id_text.to_string()
            } else {
                en.to_string()
            }
        };
        let mut lines = vec![
            ("Bot".to_string(), Cell::Text(self.bot.clone())),
            (l("Nomor run", "Run"), Cell::Text(self.run_id.clone())),
            (
                l("Berkas masukan", "Input file"),
                Cell::Text(self.input.clone()),
            ),
            (
                l("Mulai", "Started"),
                Cell::Text(self.local(self.started_at)),
            ),
            (
                l("Selesai pada", "Finished"),
                Cell::Text(self.local(self.finished_at)),
            ),
            (l("Durasi", "Duration"), Cell::Text(self.duration())),
            (l("Jumlah baris", "Rows"), Cell::Int(c.total as i64)),
            (l("Selesai", "Done"), Cell::Int(c.done as i64)),
            (
                l("Pengecualian bisnis", "Business exceptions"),
                Cell::Int(c.business as i64),
            ),
            (
                l("Pengecualian sistem", "System exceptions"),
                Cell::Int(c.system as i64),
            ),
        ];
        if c.pending > 0 {
            lines.push((
                l("Belum diproses", "Not processed"),
                Cell::Int(c.pending as i64),
            ));
        }
        if let Some(e) = &self.error {
            lines.push((l("Run berhenti", "Run stopped"), Cell::Text(e.clone())));
        }
        lines
    }

    /// The summary mail (without attachments; the caller adds them).
    pub fn mail(&self, to: &[String], cc: &[String]) -> Mail {
        let c = self.counts();
        let id = self.language == Language::Id;
        let subject = match (id, &self.error) {
            (true, None) => format!(
                "[juru] {}: {} selesai, {} perlu tindakan",
                self.bot,
                c.done,
                c.exceptions()
            ),
            (false, None) => format!(
                "[juru] {}: {} done, {} need attention",
                self.bot,
                c.done,
                c.exceptions()
            ),
            (true, Some(_)) => format!("[juru] {}: run GAGAL ({} selesai)", self.bot, c.done),
            (false, Some(_)) => format!("[juru] {}: run FAILED ({} done)", self.bot, c.done),
        };
        let w = self.words();
        let intro = if id {
            format!(
                "Bot {} telah memproses {} baris dari {}.",
                self.bot, c.total, self.input
            )
        } else {
            format!(
                "Bot {} processed {} rows of {}.",
                self.bot, c.total, self.input
            )
        };
        let failed: Vec<&ItemReport> = self
            .items
            .iter()
            .filter(|i| matches!(i.outcome, Outcome::Business | Outcome::System))
            .collect();

        let mut text = format!("{intro}\n\n");
        let mut html = format!(
            "<html><body style=\"font-family:Arial,sans-serif\"><p>{}</p>\n<table cellpadding=\"4\" style=\"border-collapse:collapse\">\n",
            escape(&intro)
        );
        for (k, v) in self.summary_lines() {
            let _ = writeln!(text, "{k:<22} {v}");
            let _ = writeln!(
                html,
                "<tr><td style=\"border:1px solid #ccc\"><b>{}</b></td><td style=\"border:1px solid #ccc\">{}</td></tr>",
                escape(&k),
                escape(&v.to_text())
            );
        }
        html.push_str("</table>\n");
        if !failed.is_empty() {
            let heading = if id {
                "Baris yang perlu tindakan petugas (rincian dan tangkapan layar ada di lampiran exceptions.xlsx):"
            } else {
                "Rows that need an officer (details and screenshots in the attached exceptions.xlsx):"
            };
            let _ = writeln!(text, "\n{heading}");
            let _ = writeln!(
                html,
                "<p>{}</p>\n<table cellpadding=\"4\" style=\"border-collapse:collapse\"><tr><th style=\"border:1px solid #ccc\">{}</th><th style=\"border:1px solid #ccc\">{}</th><th style=\"border:1px solid #ccc\">{}</th></tr>",
                escape(heading),
                w.row,
                w.kind,
                w.reason
            );
            for item in failed {
                let reason = item.reason.clone().unwrap_or_default();
                let _ = writeln!(
                    text,
                    "- {} {}: {} ({})",
                    w.row,
                    item.row,
                    reason,
                    self.status(item.outcome)
                );
                let _ = writeln!(
                    html,
                    "<tr><td style=\"border:1px solid #ccc\">{}</td><td style=\"border:1px solid #ccc\">{}</td><td style=\"border:1px solid #ccc\">{}</td></tr>",
                    item.row,
                    self.status(item.outcome),
                    escape(&reason)
                );
            }
            html.push_str("</table>\n");
        }
        let footer = if id {
            "Pesan ini dikirim otomatis oleh juru."
        } else {
            "This message was sent automatically by juru."
        };
        let _ = write!(text, "\n{footer}\n");
        let _ = writeln!(
            html,
            "<p style=\"color:#666\">{}</p></body></html>",
            escape(footer)
        );
        Mail {
            to: to.to_vec(),
            cc: cc.to_vec(),
            subject,
            text,
            html,
            attachments: Vec::new(),
        }
    }
}

fn tone(outcome: Outcome) -> Tone {
    match outcome {
        Outcome::Done => Tone::Good,
        Outcome::Business => Tone::Warning,
        Outcome::System => Tone::Bad,
        Outcome::Pending => Tone::Warning,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn report(language: Language) -> RunReport {
        let t = Utc.with_ymd_and_hms(2026, 11, 27, 3, 0, 0).unwrap();
        RunReport {
            run_id: "20261127-100000-izin".into(),
            bot: "izin".into(),
            description: String::new(),
            input: "in.xlsx".into(),
            headers: vec!["NIK".into(), "Nama".into()],
            items: vec![
                ItemReport {
                    row: 2,
                    cells: vec![Cell::Text("3201".into()), Cell::Text("Ani".into())],
                    outcome: Outcome::Done,
                    outputs: vec![("Nomor".into(), Cell::Text("503/1".into()))],
                    reason: None,
                    screenshot: None,
                    finished_at: t,
                },
                ItemReport {
                    row: 3,
                    cells: vec![Cell::Text("99".into()), Cell::Text("Budi <b>".into())],
                    outcome: Outcome::Business,
                    outputs: vec![],
                    reason: Some("NIK salah".into()),
                    screenshot: Some("screenshots/item-3-001.png".into()),
                    finished_at: t,
                },
            ],
            started_at: t,
            finished_at: t + chrono::Duration::seconds(12),
            error: None,
            time_zone: chrono_tz::Asia::Jakarta,
            language,
        }
    }

    #[test]
    fn output_sheet_has_status_outputs_and_message() {
        let s = report(Language::Id).output_sheet();
        assert_eq!(
            s.headers,
            vec!["NIK", "Nama", "Status", "Nomor", "Keterangan"]
        );
        assert_eq!(s.rows[0].cells[2], Cell::Text("Selesai".into()));
        assert_eq!(s.rows[0].cells[3], Cell::Text("503/1".into()));
        assert_eq!(s.rows[1].cells[3], Cell::Empty);
        assert_eq!(s.rows[1].cells[4], Cell::Text("NIK salah".into()));
        assert_eq!(s.tone_column, Some(2));
    }

    #[test]
    fn exceptions_sheet_lists_only_failures_with_local_time() {
        let sheets = report(Language::Id).exception_sheets();
        assert_eq!(sheets[0].rows.len(), 1);
        let row = &sheets[0].rows[0].cells;
        assert_eq!(row[0], Cell::Int(3));
        assert_eq!(row[2], Cell::Text("NIK salah".into()));
        assert_eq!(row[3], Cell::Text("27/11/2026 10:00:00 WIB".into()));
        assert!(
            matches!(&row[4], Cell::Link { target, .. } if target == "screenshots/item-3-001.png")
        );
        assert_eq!(sheets[1].name, "Ringkasan");
    }

    #[test]
    fn mail_in_both_languages_escapes_html() {
        let m = report(Language::Id).mail(&["a@x.id".into()], &[]);
        assert_eq!(m.subject, "[juru] izin: 1 selesai, 1 perlu tindakan");
        assert!(m.text.contains("Baris 3: NIK salah"), "{}", m.text);
        let m = report(Language::En).mail(&["a@x.id".into()], &[]);
        assert_eq!(m.subject, "[juru] izin: 1 done, 1 need attention");
        assert!(!m.html.contains("Budi <b>"));
    }
}
