//! What a finished run leaves for people: `output.xlsx` (every input row with its
//! status, outputs and message), `exceptions.xlsx` (the items a person must look at,
//! and a summary sheet) and the summary mail, in Indonesian or English.
//!
//! Pure functions from a [`RunReport`] to sheets and mail text; writing and sending
//! is the caller's.

use chrono::{DateTime, Utc};

use crate::config::Language;
use crate::mail::template::{self, TemplateError, Templates};
use crate::mail::Mail;
use crate::sheet::{Cell, OutRow, OutSheet, Tone};

/// How one item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Business,
    System,
    /// Failed after it was submitted, and nothing could tell whether it arrived: a
    /// person must check the legacy system.
    NeedsVerification,
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
    /// The input rows that were not work items, with why, in the report's
    /// language (`baris 27: baris jumlah`).
    pub passed_over: Vec<String>,
}

/// Counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub total: usize,
    pub done: usize,
    pub business: usize,
    pub system: usize,
    pub verify: usize,
    pub pending: usize,
}

impl Counts {
    /// Items a person must look at.
    pub fn exceptions(&self) -> usize {
        self.business + self.system + self.verify
    }
}

/// The mails a run sends (see `run::send_summary` for who gets which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// Counts and failed rows, on every run.
    Summary,
    /// The failed rows with `exceptions.xlsx`, when there are exceptions.
    Exceptions,
    /// The run failed.
    Alert,
}

impl MailKind {
    /// A stable word: `summary`, `exceptions`, `alert` (templates, outbox names).
    pub fn name(self) -> &'static str {
        match self {
            MailKind::Summary => "summary",
            MailKind::Exceptions => "exceptions",
            MailKind::Alert => "alert",
        }
    }
}

/// `RunReport::error` of a run stopped on request.
pub const CANCELLED: &str = "cancelled";

/// At most this many failed rows are listed in a mail body (all are in the workbook).
const MAIL_ROWS: usize = 100;

const TEMPLATES_ID: Templates = Templates {
    subject: include_str!("templates/id/subject.txt"),
    text: include_str!("templates/id/body.txt"),
    html: include_str!("templates/id/body.html"),
};

const TEMPLATES_EN: Templates = Templates {
    subject: include_str!("templates/en/subject.txt"),
    text: include_str!("templates/en/body.txt"),
    html: include_str!("templates/en/body.html"),
};

/// What the mail templates see.
#[derive(serde::Serialize)]
struct MailContext<'a> {
    kind: &'static str,
    bot: &'a str,
    description: &'a str,
    run_id: &'a str,
    input: &'a str,
    counts: Counts,
    exceptions: usize,
    summary: Vec<SummaryLine>,
    failed: Vec<FailedRow>,
    /// Failed rows not listed.
    more: usize,
    error: &'a str,
    cancelled: bool,
    attachment: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct SummaryLine {
    label: String,
    /// The label padded to 22 characters, for the plain-text table.
    padded: String,
    value: String,
}

#[derive(serde::Serialize)]
struct FailedRow {
    row: u32,
    kind: &'static str,
    reason: String,
}

struct Words {
    status: &'static str,
    message: &'static str,
    done: &'static str,
    business: &'static str,
    system: &'static str,
    pending: &'static str,
    verify: &'static str,
    by_reason_sheet: &'static str,
    count: &'static str,
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
    verify: "Perlu verifikasi",
    by_reason_sheet: "Per Alasan",
    count: "Jumlah",
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
    verify: "Needs verification",
    by_reason_sheet: "By Reason",
    count: "Count",
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
                Outcome::NeedsVerification => c.verify += 1,
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
            Outcome::NeedsVerification => w.verify,
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
                if !names.contains(name) {
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
            .filter(|i| {
                matches!(
                    i.outcome,
                    Outcome::Business | Outcome::System | Outcome::NeedsVerification
                )
            })
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
        vec![exceptions, self.by_reason_sheet(), summary]
    }

    /// The exceptions grouped by reason, most frequent first: where an officer starts.
    fn by_reason_sheet(&self) -> OutSheet {
        let w = self.words();
        let mut groups: Vec<(String, Outcome, usize, Vec<u32>)> = Vec::new();
        for item in self.items.iter().filter(|i| {
            matches!(
                i.outcome,
                Outcome::Business | Outcome::System | Outcome::NeedsVerification
            )
        }) {
            let reason = item.reason.clone().unwrap_or_default();
            match groups
                .iter_mut()
                .find(|g| g.0 == reason && g.1 == item.outcome)
            {
                Some(g) => {
                    g.2 += 1;
                    g.3.push(item.row);
                }
                None => groups.push((reason, item.outcome, 1, vec![item.row])),
            }
        }
        groups.sort_by_key(|g| std::cmp::Reverse(g.2));
        OutSheet {
            name: w.by_reason_sheet.into(),
            headers: vec![w.reason.into(), w.kind.into(), w.count.into(), w.row.into()],
            rows: groups
                .into_iter()
                .map(|(reason, outcome, n, rows)| OutRow {
                    cells: vec![
                        Cell::Text(reason),
                        Cell::Text(self.status(outcome).into()),
                        Cell::Int(n as i64),
                        Cell::Text(
                            rows.iter()
                                .map(|r| r.to_string())
                                .collect::<Vec<_>>()
                                .join(", "),
                        ),
                    ],
                    tone: Some(tone(outcome)),
                })
                .collect(),
            tone_column: Some(1),
        }
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
        if c.verify > 0 {
            lines.push((
                l("Perlu verifikasi", "Needs verification"),
                Cell::Int(c.verify as i64),
            ));
        }
        if c.pending > 0 {
            lines.push((
                l("Belum diproses", "Not processed"),
                Cell::Int(c.pending as i64),
            ));
        }
        if !self.passed_over.is_empty() {
            lines.push((
                l("Baris dilewati", "Rows passed over"),
                Cell::Text(self.passed_over.join("; ")),
            ));
        }
        if let Some(e) = &self.error {
            lines.push((l("Run berhenti", "Run stopped"), Cell::Text(e.clone())));
        }
        lines
    }

    /// The run mail `kind` in the report's language, rendered from the templates in
    /// `src/report/templates/` (without attachments: the caller adds them, and
    /// names the attachment with `attachment` so the text can refer to it).
    pub fn mail(
        &self,
        kind: MailKind,
        to: &[String],
        cc: &[String],
        attachment: Option<&str>,
    ) -> Result<Mail, TemplateError> {
        let templates = match self.language {
            Language::Id => TEMPLATES_ID,
            Language::En => TEMPLATES_EN,
        };
        let counts = self.counts();
        let failed: Vec<FailedRow> = self
            .items
            .iter()
            .filter(|i| {
                matches!(
                    i.outcome,
                    Outcome::Business | Outcome::System | Outcome::NeedsVerification
                )
            })
            .map(|item| FailedRow {
                row: item.row,
                kind: self.status(item.outcome),
                reason: item.reason.clone().unwrap_or_default(),
            })
            .collect();
        let more = failed.len().saturating_sub(MAIL_ROWS);
        let context = MailContext {
            kind: kind.name(),
            bot: &self.bot,
            description: &self.description,
            run_id: &self.run_id,
            input: &self.input,
            counts,
            exceptions: counts.exceptions(),
            summary: self
                .summary_lines()
                .into_iter()
                .map(|(label, value)| SummaryLine {
                    padded: format!("{label:<22}"),
                    label,
                    value: value.to_text(),
                })
                .collect(),
            failed: failed.into_iter().take(MAIL_ROWS).collect(),
            more,
            error: self.error.as_deref().unwrap_or_default(),
            cancelled: self.error.as_deref() == Some(CANCELLED),
            attachment,
        };
        let rendered = template::render(&templates, &context)?;
        Ok(Mail {
            to: to.to_vec(),
            cc: cc.to_vec(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            attachments: Vec::new(),
        })
    }
}

fn tone(outcome: Outcome) -> Tone {
    match outcome {
        Outcome::Done => Tone::Good,
        Outcome::Business => Tone::Warning,
        Outcome::System => Tone::Bad,
        Outcome::NeedsVerification => Tone::Bad,
        Outcome::Pending => Tone::Warning,
    }
}

/// Text made safe to put into HTML (element content and quoted attributes): the
/// reports' mails, the dashboard and the agent's notices share it.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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
            passed_over: Vec::new(),
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
        assert_eq!(sheets[1].name, "Per Alasan");
        assert_eq!(sheets[1].rows[0].cells[0], Cell::Text("NIK salah".into()));
        assert_eq!(sheets[1].rows[0].cells[2], Cell::Int(1));
        assert_eq!(sheets[2].name, "Ringkasan");
    }

    #[test]
    fn mail_in_both_languages_escapes_html() {
        let to = ["a@x.id".to_string()];
        let m = report(Language::Id)
            .mail(MailKind::Summary, &to, &[], None)
            .unwrap();
        assert_eq!(
            m.subject,
            "[juru] izin: 1 selesai, 1 perlu tindakan (run 20261127-100000-izin)"
        );
        assert!(
            m.text
                .starts_with("Bot izin telah memproses 2 baris dari in.xlsx.\n"),
            "{}",
            m.text
        );
        assert!(
            m.text
                .contains("- Baris 3: NIK salah (Pengecualian bisnis)\n"),
            "{}",
            m.text
        );
        assert!(
            m.text.contains("\nJumlah baris           2\n"),
            "{}",
            m.text
        );
        assert!(
            !m.text.contains("lampiran"),
            "no attachment named: {}",
            m.text
        );
        assert!(
            m.text.ends_with("Pesan ini dikirim otomatis oleh juru.\n"),
            "{}",
            m.text
        );
        assert!(
            m.html
                .contains("<td style=\"border:1px solid #ccc\">NIK salah</td>"),
            "{}",
            m.html
        );

        let mut r = report(Language::En);
        r.items[1].reason = Some("Nama <b>Budi</b> & NIK".into());
        let m = r
            .mail(MailKind::Exceptions, &to, &[], Some("Laporan – izin.xlsx"))
            .unwrap();
        assert_eq!(
            m.subject,
            "[juru] izin: exception report, 1 need attention (run 20261127-100000-izin)"
        );
        assert!(
            m.text
                .contains("- Row 3: Nama <b>Budi</b> & NIK (Business exception)"),
            "{}",
            m.text
        );
        assert!(
            m.text.contains("in the attached Laporan – izin.xlsx"),
            "{}",
            m.text
        );
        assert!(!m.html.contains("<b>Budi</b>"), "{}", m.html);
        assert!(
            m.html
                .contains("Nama &lt;b&gt;Budi&lt;&#x2f;b&gt; &amp; NIK")
                || m.html.contains("Nama &lt;b&gt;Budi&lt;/b&gt; &amp; NIK"),
            "{}",
            m.html
        );
    }

    #[test]
    fn alert_and_cancelled_subjects() {
        let mut r = report(Language::Id);
        r.error = Some("the browser could not start".into());
        let m = r
            .mail(MailKind::Alert, &["a@x.id".into()], &[], None)
            .unwrap();
        assert_eq!(
            m.subject,
            "[juru] izin: run GAGAL, 1 selesai, 1 perlu tindakan (run 20261127-100000-izin)"
        );
        assert!(
            m.text.contains("Penyebab: the browser could not start\n"),
            "{}",
            m.text
        );
        r.error = Some(CANCELLED.into());
        r.language = Language::En;
        let m = r
            .mail(MailKind::Summary, &["a@x.id".into()], &[], None)
            .unwrap();
        assert_eq!(
            m.subject,
            "[juru] izin: run stopped, 1 done, 1 need attention (run 20261127-100000-izin)"
        );
    }

    #[test]
    fn long_lists_are_cut_in_the_mail_only() {
        let mut r = report(Language::Id);
        let failed = r.items[1].clone();
        r.items = (0..MAIL_ROWS as u32 + 5)
            .map(|i| ItemReport {
                row: i + 2,
                ..failed.clone()
            })
            .collect();
        let m = r
            .mail(MailKind::Exceptions, &["a@x.id".into()], &[], None)
            .unwrap();
        assert_eq!(m.text.matches("- Baris ").count(), MAIL_ROWS);
        assert!(m.text.contains("- ... dan 5 baris lainnya\n"), "{}", m.text);
        assert_eq!(r.exception_sheets()[0].rows.len(), MAIL_ROWS + 5);
    }
}
