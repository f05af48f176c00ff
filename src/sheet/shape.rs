//! Where a table ends: the rows below a header that are not records.
//!
//! A clerk's workbook holds more than its records: a total row (`JUMLAH`
//! merged over the first columns, sums in the amounts), numbered template rows
//! left empty ("No" 8 to 26 filled in advance), and under the table, after a
//! blank row or the total, a signature block or notes. Those rows are
//! [`PassedOver`], each with its [`Pass`] reason, never work items.
//!
//! The rules are conservative: a row is passed over only when it clearly is
//! one of these; a row with real data stays a record.

use std::fmt;

use super::Cell;

/// Why a row below the header is not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pass {
    /// A total or subtotal row: its first value is a label like `JUMLAH`,
    /// `TOTAL`, `Subtotal`, the rest numbers (or nothing).
    Total,
    /// A template row: only its running number ("No") is filled.
    Template,
    /// Below the table: after a blank row (or a total row), a row that does
    /// not fit the table's shape (a signature block, notes).
    BelowTable,
    /// Hidden in the workbook (by a filter or by hand), with
    /// `visible_only` asked for.
    Hidden,
}

impl Pass {
    /// A stable word for stores and JSON: `total`, `template`, `below_table`, `hidden`.
    pub fn code(self) -> &'static str {
        match self {
            Pass::Total => "total",
            Pass::Template => "template",
            Pass::BelowTable => "below_table",
            Pass::Hidden => "hidden",
        }
    }

    /// The reason from its [`code`](Pass::code).
    pub fn from_code(code: &str) -> Option<Pass> {
        [Pass::Total, Pass::Template, Pass::BelowTable, Pass::Hidden]
            .into_iter()
            .find(|p| p.code() == code)
    }

    /// The reason in Indonesian (`english` false) or English, as officers read it.
    pub fn words(self, english: bool) -> &'static str {
        match (self, english) {
            (Pass::Total, false) => "baris jumlah",
            (Pass::Total, true) => "total row",
            (Pass::Template, false) => "baris bernomor tanpa isi",
            (Pass::Template, true) => "numbered row without data",
            (Pass::BelowTable, false) => "di bawah tabel",
            (Pass::BelowTable, true) => "below the table",
            (Pass::Hidden, false) => "baris tersembunyi",
            (Pass::Hidden, true) => "hidden row",
        }
    }
}

/// Rows `first..=last` (as Excel numbers them) passed over for one reason.
/// Blank rows inside the range are counted in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassedOver {
    pub first: u32,
    pub last: u32,
    pub why: Pass,
}

impl PassedOver {
    /// `baris 27: baris jumlah`, `baris 12–19: di bawah tabel` (Indonesian), or
    /// `row 27: total row`, `rows 12–19: below the table` (English).
    pub fn describe(&self, english: bool) -> String {
        let rows = if self.first == self.last {
            format!("{} {}", if english { "row" } else { "baris" }, self.first)
        } else {
            format!(
                "{} {}–{}",
                if english { "rows" } else { "baris" },
                self.first,
                self.last
            )
        };
        format!("{rows}: {}", self.why.words(english))
    }
}

impl fmt::Display for PassedOver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(true))
    }
}

/// `"baris 27: baris jumlah; baris 12–19: di bawah tabel"`.
pub fn describe_all(passed: &[PassedOver], english: bool) -> String {
    passed
        .iter()
        .map(|p| p.describe(english))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Adds row `number` to the list, joining it to the last range when that has
/// the same reason and only passed-over or blank rows lie between.
pub(super) fn push(passed: &mut Vec<PassedOver>, number: u32, why: Pass, joins: bool) {
    if let Some(last) = passed.last_mut() {
        if joins && last.why == why && last.last < number {
            last.last = number;
            return;
        }
    }
    passed.push(PassedOver {
        first: number,
        last: number,
        why,
    });
}

/// Header texts of a running-number column.
fn is_number_header(header: &str) -> bool {
    let key: String = header
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '#')
        .collect();
    matches!(
        key.as_str(),
        "no" | "nomor" | "nourut" | "nomorurut" | "#" | "nmr" | "number"
    )
}

/// Labels that start a total row whatever follows (`TOTAL BIDANG A`,
/// `Subtotal Kecamatan Cibinong`), compared in lower case.
const TOTAL_LABELS: &[&str] = &["total", "subtotal", "sub total", "sub-total", "grand total"];

/// `jumlah` and its short forms, a total row's label only alone or with one of
/// [`SUM_QUALIFIERS`] (`Jumlah baris` in a list of figures is no total row).
const SUM_LABELS: &[&str] = &["jumlah", "jml", "jml."];
const SUM_QUALIFIERS: &[&str] = &[
    "total",
    "keseluruhan",
    "seluruhnya",
    "seluruh",
    "akhir",
    "semua",
];

/// `JUMLAH`, `Total:`, `SUBTOTAL BIDANG A`, `Jumlah Total`, `Jumlah (Rp)`:
/// the label of a total row. Short text only.
fn is_total_label(text: &str) -> bool {
    let t = text.trim().to_lowercase().replace('\u{a0}', " ");
    if t.chars().count() > 40 {
        return false;
    }
    let rest_after = |labels: &[&str]| -> Option<String> {
        labels.iter().find_map(|label| {
            t.strip_prefix(label)
                .filter(|rest| rest.is_empty() || rest.starts_with([' ', ':', '(', '-']))
                .map(|rest| rest.to_string())
        })
    };
    if rest_after(TOTAL_LABELS).is_some() {
        return true;
    }
    match rest_after(SUM_LABELS) {
        None => false,
        Some(rest) => {
            // Drop a unit in parentheses and colons: `Jumlah (Rp):`.
            let rest = match (rest.find('('), rest.find(')')) {
                (Some(a), Some(b)) if a < b => format!("{}{}", &rest[..a], &rest[b + 1..]),
                _ => rest,
            };
            let rest = rest.replace([':', '-'], " ");
            let words: Vec<&str> = rest.split_whitespace().collect();
            words.is_empty() || (words.len() == 1 && SUM_QUALIFIERS.contains(&words[0]))
        }
    }
}

/// An amount as a total row shows it: a number, or text of a number
/// (`1.250.000`, `Rp 4.100.000`), a formula error (`#VALUE!`).
fn is_amount(cell: &Cell) -> bool {
    match cell {
        Cell::Int(_) | Cell::Float(_) => true,
        Cell::Text(t) => {
            let t = t.trim();
            let t = t
                .strip_prefix("Rp.")
                .or_else(|| t.strip_prefix("Rp"))
                .unwrap_or(t)
                .trim();
            t.starts_with('#')
                || (!t.is_empty()
                    && t.chars().any(|c| c.is_ascii_digit())
                    && t.chars()
                        .all(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '-' | ' ' | '%')))
        }
        _ => false,
    }
}

/// A running number: a whole number, or its digits as text (`8`, `8.`).
fn is_running_number(cell: &Cell) -> bool {
    match cell {
        Cell::Int(n) => *n >= 0,
        Cell::Text(t) => {
            let t = t.trim().trim_end_matches('.');
            !t.is_empty() && t.len() <= 6 && t.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// For each row below the header (`rows`, cells of the table's columns only,
/// before merged values are spread), why it is not a record, or `None` when it
/// is one (blank rows are `None` too; they are skipped elsewhere).
///
/// - a total row: its first value is a total label and every other value is an
///   amount (or the same label, copied from a merge);
/// - a template row: only the running-number column (headed `No`, `Nomor`…,
///   else the first column) holds a number;
/// - below the table: a row that does not fit the table's shape (it fills
///   fewer than half of the table's usual columns, those filled in at least
///   half of the records above the first blank row or total row, and not every
///   `required` column with at least two cells), once the table has ended: at
///   the first such row that follows a blank row or a total row.
pub(super) fn classify(
    rows: &[(u32, &[Cell])],
    headers: &[String],
    required: &[usize],
) -> Vec<Option<Pass>> {
    let width = headers.len();
    let number_col = headers
        .iter()
        .position(|h| is_number_header(h))
        .unwrap_or(0);
    let filled = |cells: &[Cell]| -> Vec<usize> {
        cells
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.is_empty())
            .map(|(j, _)| j)
            .collect()
    };
    let mut out: Vec<Option<Pass>> = vec![None; rows.len()];
    let fills: Vec<Vec<usize>> = rows.iter().map(|(_, cells)| filled(cells)).collect();
    for (i, (_, cells)) in rows.iter().enumerate() {
        let f = &fills[i];
        let Some(&first) = f.first() else {
            continue;
        };
        if let Cell::Text(label) = &cells[first] {
            if is_total_label(label)
                && f[1..].iter().all(|&j| {
                    is_amount(&cells[j])
                        || matches!(&cells[j], Cell::Text(t) if t.trim() == label.trim())
                })
            {
                out[i] = Some(Pass::Total);
                continue;
            }
        }
        if width >= 2 && f.len() == 1 && first == number_col && is_running_number(&cells[first]) {
            out[i] = Some(Pass::Template);
        }
    }

    // The table's shape, from the records above the first break (blank row or total row).
    let mut counts = vec![0usize; width];
    let mut records = 0usize;
    let mut previous: Option<u32> = None;
    let mut break_at = rows.len();
    for (i, (number, _)) in rows.iter().enumerate() {
        if fills[i].is_empty() {
            continue;
        }
        if previous.is_some_and(|p| number.saturating_sub(p) > 1) {
            break_at = i;
            break;
        }
        previous = Some(*number);
        if out[i] == Some(Pass::Total) {
            break_at = i + 1;
            break;
        }
        if out[i].is_none() {
            records += 1;
            for &j in &fills[i] {
                counts[j] += 1;
            }
        }
    }
    let core: Vec<usize> = (0..width)
        .filter(|&j| records > 0 && counts[j] * 2 >= records)
        .collect();
    if core.len() < 2 {
        // A table of one column (or no records above the break): no shape to judge by.
        return out;
    }
    // The table ends at the first row after a break that does not fit the
    // shape; from there, rows that do not fit are below it.
    let mut ended = false;
    let mut previous: Option<(u32, bool)> = None;
    for i in 0..rows.len() {
        if fills[i].is_empty() {
            continue;
        }
        let number = rows[i].0;
        let after_break =
            previous.is_some_and(|(p, was_total)| was_total || number.saturating_sub(p) > 1);
        previous = Some((number, out[i] == Some(Pass::Total)));
        if i < break_at || out[i].is_some() {
            continue;
        }
        let f = &fills[i];
        let in_core = f.iter().filter(|j| core.contains(j)).count();
        let has_required =
            !required.is_empty() && f.len() >= 2 && required.iter().all(|r| f.contains(r));
        let fits = in_core * 2 >= core.len() || has_required;
        if !fits && after_break {
            ended = true;
        }
        if !fits && ended {
            out[i] = Some(Pass::BelowTable);
        }
    }
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    fn t(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    fn run(rows: &[(u32, Vec<Cell>)], headers: &[&str], required: &[usize]) -> Vec<Option<Pass>> {
        let rows: Vec<(u32, &[Cell])> = rows.iter().map(|(n, c)| (*n, c.as_slice())).collect();
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        classify(&rows, &headers, required)
    }

    #[test]
    fn totals_templates_and_signature_blocks() {
        let e = || Cell::Empty;
        let rows = vec![
            (
                5,
                vec![
                    Cell::Int(1),
                    t("198803052010121001"),
                    t("Ani"),
                    Cell::Int(100),
                ],
            ),
            (
                6,
                vec![
                    Cell::Int(2),
                    t("198803052010121002"),
                    t("Budi"),
                    Cell::Int(200),
                ],
            ),
            (7, vec![Cell::Int(3), e(), e(), e()]),
            (8, vec![Cell::Int(4), e(), e(), e()]),
            (9, vec![t("JUMLAH"), e(), e(), Cell::Int(300)]),
            (11, vec![e(), e(), t("Bogor, 17 Agustus 2026"), e()]),
            (12, vec![e(), e(), t("Kepala Dinas"), e()]),
            (15, vec![e(), e(), t("NIP. 19680512 199403 1 004"), e()]),
        ];
        let got = run(&rows, &["No", "NIP", "Nama", "Gaji"], &[]);
        assert_eq!(
            got,
            vec![
                None,
                None,
                Some(Pass::Template),
                Some(Pass::Template),
                Some(Pass::Total),
                Some(Pass::BelowTable),
                Some(Pass::BelowTable),
                Some(Pass::BelowTable),
            ]
        );
    }

    #[test]
    fn rows_with_data_stay_records() {
        let e = || Cell::Empty;
        let rows = vec![
            (2, vec![Cell::Int(1), t("3201"), t("Ani"), Cell::Int(100)]),
            (3, vec![Cell::Int(2), t("3202"), t("Budi"), Cell::Int(200)]),
            // After a gap, a row that fits the shape.
            (5, vec![Cell::Int(3), t("3203"), t("Citra"), e()]),
            // A name that starts like a label, with an id: a record.
            (6, vec![e(), t("3204"), t("Total Sejahtera"), e()]),
            // Only the required columns, after the gap: a record.
            (7, vec![e(), t("3205"), t("Dewi"), e()]),
            // A label with text beside it is no total.
            (8, vec![t("Jumlah"), t("catatan"), e(), e()]),
        ];
        let got = run(&rows, &["No", "NIK", "Nama", "Gaji"], &[1, 2]);
        assert_eq!(got, vec![None; 6]);
        assert!(is_total_label("SUBTOTAL BIDANG A"));
        assert!(is_total_label("Jumlah:"));
        assert!(is_total_label("Total"));
        assert!(!is_total_label("Totalitas"));
        assert!(!is_total_label("Jumlahnya berapa"));
        assert!(is_total_label("Jumlah Total"));
        assert!(is_total_label("JUMLAH (Rp) :"));
        assert!(!is_total_label("Jumlah baris"), "a figure in a list");
        assert!(!is_total_label("Jumlah anak"));
    }

    #[test]
    fn descriptions_in_both_languages() {
        let p = PassedOver {
            first: 12,
            last: 19,
            why: Pass::BelowTable,
        };
        assert_eq!(p.describe(false), "baris 12–19: di bawah tabel");
        assert_eq!(p.describe(true), "rows 12–19: below the table");
        let p = PassedOver {
            first: 27,
            last: 27,
            why: Pass::Total,
        };
        assert_eq!(p.describe(false), "baris 27: baris jumlah");
        assert_eq!(Pass::from_code("below_table"), Some(Pass::BelowTable));
    }
}
