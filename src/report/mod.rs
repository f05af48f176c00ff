//! What a finished run leaves for people: `output.xlsx` (every input row with its
//! status, outputs and message), `exceptions.xlsx` (the items a person must look at,
//! and a summary sheet) and the summary mail, in Indonesian or English.
//!
//! Pure functions from a [`RunReport`] to sheets and mail text; writing and sending
//! is the caller's, except [`RunReport::write_exceptions`], which reads the run's
//! screenshots to embed them in `exceptions.xlsx` (blocking).
//!
//! What officers see names rows by the bot's key columns (`[notify] key_columns`,
//! and the sheet's own `No` column), never shows a server path, and replaces the
//! technical text of a system exception with a plain sentence (the detail stays in
//! `output.xlsx`, the store and the dashboard for IT staff).

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::config::Language;
use crate::mail::template::{self, TemplateError, Templates};
use crate::mail::Mail;
use crate::sheet::{Cell, OutImage, OutRow, OutSheet, SheetError, Tone};

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
    /// Input columns that say who a row is about (`[notify] key_columns`), shown
    /// beside the row number wherever officers see a row; names that are not
    /// headers of the input are left out.
    pub key_columns: Vec<String>,
    /// A resumed run: when this part started and how many rows it worked on (the
    /// summary then gives both parts instead of one duration with the pause in it).
    pub resumed: Option<(DateTime<Utc>, usize)>,
    /// Screenshots left out of `exceptions.xlsx` to keep the mail under its size
    /// limit (set by [`RunReport::write_exceptions`]).
    pub screenshots_left_out: usize,
    /// The mail size limit in bytes (`[notify] max_mail_mb`), for the note.
    pub max_mail_bytes: u64,
    /// The input rows that were not work items, with why, in the report's
    /// language (`baris 27: baris jumlah`).
    pub passed_over: Vec<String>,
}

/// `[notify] max_mail_mb` when not set.
pub const DEFAULT_MAX_MAIL_MB: u64 = 10;

/// What officers read instead of a system exception's technical text.
pub const SYSTEM_REASON_ID: &str = "Kesalahan sistem pada bot; tim TI sudah diberi tahu";
/// [`SYSTEM_REASON_ID`] in English.
pub const SYSTEM_REASON_EN: &str = "A system error in the bot; the IT staff have been told";

/// Thumbnails in `exceptions.xlsx`: the box they are scaled into, in pixels.
const THUMB_WIDTH: u32 = 160;
const THUMB_HEIGHT: u32 = 90;
/// Rows of the screenshots sheet taken by one full-size screenshot.
const SHOT_ROWS: u32 = 45;
/// Room kept for the mail's text, the rest of the workbook and base64's growth.
const MAIL_OVERHEAD: u64 = 256 * 1024;

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
    /// Screenshots not in the attached workbook (size limit), and the limit.
    left_out: usize,
    limit_mb: u64,
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
    /// The sheet's own `No` of the row, if it has that column.
    no: String,
    /// The key columns, `NIK 3201…, Nama Ani`.
    who: String,
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
        let secs = (self.finished_at - self.started_at).num_seconds().max(0) as u64;
        human_duration(secs, self.language)
    }

    /// The duration line: one duration, or for a resumed run both parts,
    /// `2 bagian: 45 dtk untuk 3 baris sejak dilanjutkan 29/11/2026 10:00:00 WIB;
    /// 5 mnt 12 dtk sejak mulai pertama, termasuk jeda`.
    fn duration_text(&self) -> String {
        let Some((at, rows)) = self.resumed else {
            return self.duration();
        };
        let part = (self.finished_at - at).num_seconds().max(0) as u64;
        let part = human_duration(part, self.language);
        match self.language {
            Language::Id => format!(
                "2 bagian: {part} untuk {rows} baris sejak dilanjutkan {}; {} sejak mulai pertama, termasuk jeda",
                self.local(at),
                self.duration()
            ),
            Language::En => format!(
                "2 parts: {part} for {rows} rows since resumed {}; {} since the first start, pause included",
                self.local(at),
                self.duration()
            ),
        }
    }

    /// The input workbook's file name, without the folders it sits in on the server.
    fn input_name(&self) -> String {
        file_name(&self.input)
    }

    /// The reason an officer reads: a system exception's technical text is
    /// replaced with a plain sentence.
    pub fn officer_reason(&self, item: &ItemReport) -> String {
        match item.outcome {
            Outcome::System => match self.language {
                Language::Id => SYSTEM_REASON_ID.into(),
                Language::En => SYSTEM_REASON_EN.into(),
            },
            _ => item.reason.clone().unwrap_or_default(),
        }
    }

    /// Index of the input column named `name` (case and spaces ignored).
    fn column(&self, name: &str) -> Option<usize> {
        let key = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        self.headers.iter().position(|h| key(h) == key(name))
    }

    /// The sheet's own row number column (`No`, `No.`, `Nomor`), if any.
    fn no_column(&self) -> Option<usize> {
        ["No", "No.", "Nomor", "Nomor Urut"]
            .iter()
            .find_map(|n| self.column(n))
            .filter(|c| !self.key_indexes().contains(c))
    }

    /// Indexes of the key columns found in the headers, in the configured order.
    fn key_indexes(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for name in &self.key_columns {
            if let Some(c) = self.column(name) {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        out
    }

    /// `NIK 3201…, Nama Ani`: the key columns of a row that have a value.
    fn who(&self, item: &ItemReport) -> String {
        self.key_indexes()
            .into_iter()
            .filter_map(|c| {
                let value = item.cells.get(c).map(Cell::to_text).unwrap_or_default();
                (!value.trim().is_empty())
                    .then(|| format!("{} {}", self.headers[c].trim(), value.trim()))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The sheet's `No` of a row, or empty.
    fn no(&self, item: &ItemReport) -> String {
        self.no_column()
            .and_then(|c| item.cells.get(c))
            .map(Cell::to_text)
            .unwrap_or_default()
    }

    /// How a row is named for officers: `Baris 7 (No 5) · NIK 3201…, Nama Ani`.
    pub fn row_label(&self, item: &ItemReport) -> String {
        let mut label = format!("{} {}", self.words().row, item.row);
        let no = self.no(item);
        if !no.is_empty() {
            label.push_str(&format!(" (No {no})"));
        }
        let who = self.who(item);
        if !who.is_empty() {
            label.push_str(" · ");
            label.push_str(&who);
        }
        label
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

    /// `exceptions.xlsx`: one row per failed item (row number, the sheet's `No`,
    /// the key columns, kind, reason, time, screenshot, then the other input
    /// columns),
    /// the exceptions by reason and the run summary. Screenshots are links here;
    /// [`RunReport::write_exceptions`] embeds them.
    pub fn exception_sheets(&self) -> Vec<OutSheet> {
        let w = self.words();
        let keys = self.key_indexes();
        let no = self.no_column();
        let mut headers: Vec<String> = vec![w.row.into()];
        if let Some(c) = no {
            headers.push(self.headers[c].clone());
        }
        headers.extend(keys.iter().map(|c| self.headers[*c].clone()));
        headers.extend([
            w.kind.into(),
            w.reason.into(),
            w.time.into(),
            w.screenshot.into(),
        ]);
        // The other input columns (those shown up front are not repeated).
        let front: Vec<usize> = no.into_iter().chain(keys.iter().copied()).collect();
        let rest: Vec<usize> = (0..self.headers.len())
            .filter(|c| !front.contains(c))
            .collect();
        headers.extend(rest.iter().map(|c| self.headers[*c].clone()));
        let kind_col = 1 + front.len();
        let rows = self
            .failed_items()
            .map(|item| {
                let cell = |c: usize| item.cells.get(c).cloned().unwrap_or(Cell::Empty);
                let mut cells = vec![Cell::Int(item.row as i64)];
                if let Some(c) = no {
                    cells.push(cell(c));
                }
                cells.extend(keys.iter().map(|c| cell(*c)));
                cells.extend([
                    Cell::Text(self.status(item.outcome).into()),
                    Cell::Text(self.officer_reason(item)),
                    Cell::Text(self.local(item.finished_at)),
                    match &item.screenshot {
                        Some(path) => Cell::Link {
                            target: path.clone(),
                            text: path.clone(),
                        },
                        None => Cell::Empty,
                    },
                ]);
                cells.extend(rest.iter().map(|c| cell(*c)));
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
            tone_column: Some(kind_col),
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

    /// The items a person must look at, in input order.
    fn failed_items(&self) -> impl Iterator<Item = &ItemReport> {
        self.items.iter().filter(|i| {
            matches!(
                i.outcome,
                Outcome::Business | Outcome::System | Outcome::NeedsVerification
            )
        })
    }

    /// Writes `exceptions.xlsx` to `path` with each failed row's screenshot (read
    /// from `run_dir`) embedded: a thumbnail in the row's screenshot cell that
    /// leads, when clicked, to the full-size picture on the screenshots sheet.
    /// Screenshots that would make a mail bigger than `max_mail_bytes` are left
    /// out (the row says so, and [`RunReport::screenshots_left_out`] counts them
    /// for the mail); a missing screenshot file is left out the same way.
    pub fn write_exceptions(
        &mut self,
        path: &Path,
        run_dir: &Path,
        max_mail_bytes: u64,
    ) -> Result<(), SheetError> {
        let id = self.language == Language::Id;
        let mut sheets = self.exception_sheets();
        let shots_name = self.words().screenshot.to_string();
        let shot_col = sheets[0]
            .headers
            .iter()
            .position(|h| h == &shots_name)
            .unwrap_or(0);
        let budget = max_mail_bytes.saturating_sub(MAIL_OVERHEAD) / 4 * 3;
        let mut used = 0u64;
        let mut left_out = 0usize;
        let mut images = Vec::new();
        let mut shots = OutSheet {
            name: shots_name.clone(),
            headers: vec![self.words().row.into()],
            rows: Vec::new(),
            tone_column: None,
        };
        let labels: Vec<(String, Option<String>)> = self
            .failed_items()
            .map(|i| (self.row_label(i), i.screenshot.clone()))
            .collect();
        for (n, (label, shot)) in labels.into_iter().enumerate() {
            let Some(shot) = shot else { continue };
            let bytes = std::fs::read(run_dir.join(&shot)).ok();
            let fits = bytes
                .as_ref()
                .is_some_and(|b| used + b.len() as u64 <= budget);
            let row = &mut sheets[0].rows[n];
            if !fits {
                left_out += 1;
                row.cells[shot_col] = Cell::Text(
                    if bytes.is_none() {
                        if id {
                            "tidak tersedia"
                        } else {
                            "not available"
                        }
                    } else if id {
                        "tidak dilampirkan (batas ukuran surel)"
                    } else {
                        "left out (mail size limit)"
                    }
                    .into(),
                );
                continue;
            }
            let bytes = bytes.unwrap_or_default();
            used += bytes.len() as u64;
            // The full-size picture on the screenshots sheet, below its label
            // (sheet row `at`; data row `at - 1`, the header being row 0).
            let at = 1 + images.len() as u32 / 2 * SHOT_ROWS;
            shots.rows.resize(at as usize - 1, OutRow::default());
            shots.rows.push(OutRow {
                cells: vec![Cell::Text(label.clone())],
                tone: None,
            });
            images.push(OutImage {
                sheet: 3,
                row: at + 1,
                col: 0,
                bytes: bytes.clone(),
                width: 0,
                height: 0,
                link: None,
                alt_text: label.clone(),
            });
            // The cell keeps its link to the file (under the thumbnail), which
            // works where the workbook sits in its run folder.
            images.push(OutImage {
                sheet: 0,
                row: n as u32 + 1,
                col: shot_col as u16,
                bytes,
                width: THUMB_WIDTH,
                height: THUMB_HEIGHT,
                link: Some(format!("'{shots_name}'!A{}", at + 1)),
                alt_text: label,
            });
        }
        self.screenshots_left_out = left_out;
        self.max_mail_bytes = max_mail_bytes;
        if left_out > 0 {
            let note = if id {
                format!("{left_out} tangkapan layar tidak dilampirkan karena batas ukuran surel ({} MB); tim TI dapat mengambilnya dari server", mb(max_mail_bytes))
            } else {
                format!("{left_out} screenshots left out to keep the mail under {} MB; the IT staff can fetch them from the server", mb(max_mail_bytes))
            };
            sheets[2].rows.push(OutRow {
                cells: vec![Cell::Text(self.words().screenshot.into()), Cell::Text(note)],
                tone: None,
            });
        }
        if !images.is_empty() {
            sheets.push(shots);
        }
        crate::sheet::write_with_images(path, &sheets, &images)
    }

    /// The exceptions grouped by reason, most frequent first: where an officer starts.
    fn by_reason_sheet(&self) -> OutSheet {
        let w = self.words();
        let mut groups: Vec<(String, Outcome, usize, Vec<u32>)> = Vec::new();
        for item in self.failed_items() {
            let reason = self.officer_reason(item);
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
            (l("Nomor proses", "Run"), Cell::Text(self.run_id.clone())),
            (
                l("Berkas masukan", "Input file"),
                Cell::Text(self.input_name()),
            ),
            (
                l("Mulai", "Started"),
                Cell::Text(self.local(self.started_at)),
            ),
            (
                l("Selesai pada", "Finished"),
                Cell::Text(self.local(self.finished_at)),
            ),
            (l("Durasi", "Duration"), Cell::Text(self.duration_text())),
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
            lines.push((
                l("Proses berhenti", "Run stopped"),
                Cell::Text(strip_paths(e)),
            ));
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
            .failed_items()
            .map(|item| FailedRow {
                row: item.row,
                no: self.no(item),
                who: self.who(item),
                kind: self.status(item.outcome),
                reason: self.officer_reason(item),
            })
            .collect();
        let input = self.input_name();
        let error = strip_paths(self.error.as_deref().unwrap_or_default());
        let more = failed.len().saturating_sub(MAIL_ROWS);
        let context = MailContext {
            kind: kind.name(),
            bot: &self.bot,
            description: &self.description,
            run_id: &self.run_id,
            input: &input,
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
            error: &error,
            cancelled: self.error.as_deref() == Some(CANCELLED),
            attachment,
            left_out: if attachment.is_some() {
                self.screenshots_left_out
            } else {
                0
            },
            limit_mb: mb(self.max_mail_bytes),
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

/// `1 mnt 27 dtk`, `2 jam 5 mnt`, `45 dtk` (Indonesian) or `1 min 27 s` (English):
/// one way of writing a duration in reports, mails and the dashboard.
pub fn human_duration(secs: u64, language: Language) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let (hw, mw, sw) = match language {
        Language::Id => ("jam", "mnt", "dtk"),
        Language::En => ("h", "min", "s"),
    };
    if h > 0 {
        format!("{h} {hw} {m} {mw}")
    } else if m > 0 {
        format!("{m} {mw} {s} {sw}")
    } else {
        format!("{s} {sw}")
    }
}

/// The last part of a path (`/srv/juru/bots/izin/masuk.xlsx` → `masuk.xlsx`).
fn file_name(path: &str) -> String {
    path.rsplit(['/', '\\'])
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or(path)
        .to_string()
}

/// A text with every absolute path in it cut to its file name, so that server
/// folders do not reach officers' mail.
pub fn strip_paths(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let bare =
                word.trim_matches(|c: char| matches!(c, '"' | '\'' | '(' | ')' | ',' | ':' | ';'));
            if bare.len() > 1 && (bare.starts_with('/') || bare.get(1..3) == Some(":\\")) {
                word.replace(bare, &file_name(bare))
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Bytes as whole megabytes, for notes.
fn mb(bytes: u64) -> u64 {
    bytes.div_ceil(1024 * 1024)
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
            key_columns: vec!["NIK".into()],
            resumed: None,
            screenshots_left_out: 0,
            max_mail_bytes: DEFAULT_MAX_MAIL_MB * 1024 * 1024,
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
        assert_eq!(
            sheets[0].headers[..6],
            [
                "Baris",
                "NIK",
                "Jenis",
                "Alasan",
                "Waktu",
                "Tangkapan Layar"
            ]
        );
        assert_eq!(sheets[0].tone_column, Some(2));
        let row = &sheets[0].rows[0].cells;
        assert_eq!(row[0], Cell::Int(3));
        assert_eq!(row[1], Cell::Text("99".into()));
        assert_eq!(row[3], Cell::Text("NIK salah".into()));
        assert_eq!(row[4], Cell::Text("27/11/2026 10:00:00 WIB".into()));
        assert!(
            matches!(&row[5], Cell::Link { target, .. } if target == "screenshots/item-3-001.png")
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
                .contains("- Baris 3 · NIK 99: NIK salah (Pengecualian bisnis)\n"),
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
                .contains("- Row 3 · NIK 99: Nama <b>Budi</b> & NIK (Business exception)"),
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
        assert_eq!(m.text.matches("\n- Baris ").count(), MAIL_ROWS);
        assert!(m.text.contains("- ... dan 5 baris lainnya\n"), "{}", m.text);
        assert_eq!(r.exception_sheets()[0].rows.len(), MAIL_ROWS + 5);
    }

    #[test]
    fn durations_read_the_same_everywhere() {
        assert_eq!(human_duration(2, Language::Id), "2 dtk");
        assert_eq!(human_duration(87, Language::Id), "1 mnt 27 dtk");
        assert_eq!(human_duration(7500, Language::Id), "2 jam 5 mnt");
        assert_eq!(human_duration(87, Language::En), "1 min 27 s");
        let m = report(Language::Id)
            .mail(MailKind::Summary, &["a@x.id".into()], &[], None)
            .unwrap();
        assert!(
            m.text.contains("\nDurasi                 12 dtk\n"),
            "{}",
            m.text
        );
        assert!(m.text.contains("\nNomor proses "), "{}", m.text);

        let mut r = report(Language::Id);
        r.resumed = Some((r.finished_at - chrono::Duration::seconds(5), 1));
        r.finished_at += chrono::Duration::seconds(300);
        let m = r
            .mail(MailKind::Summary, &["a@x.id".into()], &[], None)
            .unwrap();
        assert!(
            m.text.contains("Durasi                 2 bagian: 5 mnt 5 dtk untuk 1 baris sejak dilanjutkan 27/11/2026 10:00:07 WIB; 5 mnt 12 dtk sejak mulai pertama, termasuk jeda\n"),
            "{}",
            m.text
        );
    }

    #[test]
    fn officers_see_key_columns_no_paths_and_a_plain_system_reason() {
        let mut r = report(Language::Id);
        r.input = "/srv/juru/bots/izin/masuk.xlsx".into();
        r.headers = vec!["No".into(), "NIK".into(), "Nama".into()];
        r.key_columns = vec!["nik".into(), "Nama".into(), "Tidak Ada".into()];
        for (i, item) in r.items.iter_mut().enumerate() {
            item.cells.insert(0, Cell::Int(i as i64 + 1));
        }
        r.items[1].outcome = Outcome::System;
        r.items[1].reason = Some("element #nik not found at /srv/juru/var/runs/x/page.html".into());
        r.error = Some("cannot read /srv/juru/bots/izin/masuk.xlsx: busy".into());
        let m = r
            .mail(MailKind::Alert, &["a@x.id".into()], &[], None)
            .unwrap();
        assert!(!m.text.contains("/srv/"), "{}", m.text);
        assert!(!m.html.contains("/srv/"), "{}", m.html);
        assert!(m.text.contains("masuk.xlsx"), "{}", m.text);
        assert!(
            m.text.contains(
                "- Baris 3 (No 2) · NIK 99, Nama Budi <b>: Kesalahan sistem pada bot; tim TI sudah diberi tahu (Pengecualian sistem)\n"
            ),
            "{}",
            m.text
        );
        let sheets = r.exception_sheets();
        assert_eq!(
            sheets[0].headers[..5],
            ["Baris", "No", "NIK", "Nama", "Jenis"]
        );
        let row = &sheets[0].rows[0].cells;
        assert_eq!(row[1], Cell::Int(2));
        assert_eq!(row[5], Cell::Text(SYSTEM_REASON_ID.into()));
        let all = format!("{sheets:?}");
        assert!(!all.contains("/srv/"), "{all}");
        // The detail stays in output.xlsx.
        assert!(format!("{:?}", r.output_sheet()).contains("element #nik not found"));
        assert_eq!(strip_paths("x \"/a/b/c.txt\": y"), "x \"c.txt\": y");
    }

    /// A PNG of `width` × `height` of noise (`seed` makes pictures differ).
    fn png(width: u32, height: u32, mut seed: u32) -> Vec<u8> {
        let line = width as usize * 3 + 1;
        let mut raw = vec![0u8; line * height as usize];
        for (i, byte) in raw.iter_mut().enumerate() {
            // Each line starts with its filter byte (0, none).
            if i % line != 0 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *byte = (seed >> 16) as u8;
            }
        }
        encode_png(width, height, &raw)
    }

    /// A PNG with stored (uncompressed) deflate blocks: enough for a test picture.
    fn encode_png(width: u32, height: u32, raw: &[u8]) -> Vec<u8> {
        fn crc(bytes: &[u8]) -> u32 {
            let mut c = 0xFFFF_FFFFu32;
            for b in bytes {
                c ^= u32::from(*b);
                for _ in 0..8 {
                    c = if c & 1 == 1 {
                        0xEDB8_8320 ^ (c >> 1)
                    } else {
                        c >> 1
                    };
                }
            }
            !c
        }
        fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
            out.extend((data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend(data);
            out.extend(&body);
            out.extend(crc(&body).to_be_bytes());
        }
        let mut z = vec![0x78, 0x01];
        let blocks: Vec<&[u8]> = raw.chunks(65535).collect();
        for (i, block) in blocks.iter().enumerate() {
            z.push(u8::from(i + 1 == blocks.len()));
            let n = block.len() as u16;
            z.extend(n.to_le_bytes());
            z.extend((!n).to_le_bytes());
            z.extend(*block);
        }
        let (mut a, mut b) = (1u32, 0u32);
        for x in raw {
            a = (a + u32::from(*x)) % 65521;
            b = (b + a) % 65521;
        }
        z.extend(((b << 16) | a).to_be_bytes());
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend(height.to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &z);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn screenshots_are_embedded_within_the_mail_limit() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("screenshots")).unwrap();
        let mut r = report(Language::Id);
        let failed = r.items[1].clone();
        r.items = (0..3u32)
            .map(|i| ItemReport {
                row: i + 3,
                screenshot: Some(format!("screenshots/row-{:04}.png", i + 3)),
                ..failed.clone()
            })
            .collect();
        for i in 0..3 {
            std::fs::write(
                dir.path().join(format!("screenshots/row-{:04}.png", i + 3)),
                png(400, 400, i),
            )
            .unwrap();
        }
        // Room for all three.
        let path = dir.path().join("exceptions.xlsx");
        r.write_exceptions(&path, dir.path(), 10 * 1024 * 1024)
            .unwrap();
        assert_eq!(r.screenshots_left_out, 0);
        assert_eq!(media(&path), 3);
        // Room for one (each is ~480 KB).
        r.write_exceptions(&path, dir.path(), 1024 * 1024).unwrap();
        assert_eq!(r.screenshots_left_out, 2);
        assert_eq!(media(&path), 1);
        let m = r
            .mail(
                MailKind::Exceptions,
                &["a@x.id".into()],
                &[],
                Some("exceptions.xlsx"),
            )
            .unwrap();
        assert!(
            m.text.contains(
                "Catatan: 2 tangkapan layar tidak dilampirkan karena batas ukuran surel (1 MB)"
            ),
            "{}",
            m.text
        );
    }

    /// How many pictures an .xlsx holds.
    fn media(path: &Path) -> usize {
        let file = std::fs::File::open(path).unwrap();
        let zip = zip::ZipArchive::new(file).unwrap();
        zip.file_names()
            .filter(|n| n.as_deref().is_ok_and(|n| n.starts_with("xl/media/")))
            .count()
    }
}
