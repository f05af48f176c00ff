//! Declared column types (`[input.columns]` of a bot): each value of a typed
//! column is normalised (Indonesian numbers, `Rp`, `%`, `Ya`/`Tidak`, dates
//! in the forms people write them, identifiers without their spaces and dots)
//! and checked (a NIK has 16 digits, a NIP 18) before a script sees it. A value
//! that fails is a [`ValueProblem`] of its row, said in words an officer
//! understands, in Indonesian or English.

use std::fmt;

use super::cell::{date_from_serial, parse_date};
use super::Cell;

/// The type a bot declares for a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Text as it is (a number becomes its digits).
    Text,
    /// A 16-digit NIK (population number), kept as text of its digits.
    Nik,
    /// An 18-digit NIP (civil servant number), kept as text of its digits.
    Nip,
    /// A date (`17/08/1985`, `17-08-1985`, `17 Agustus 1985`, an Excel day number).
    Date,
    /// An amount in rupiah (`Rp 4.100.000`, `1.250.000,50`, a number cell).
    Rupiah,
    /// A number, Indonesian style in text (`1.250,5`).
    Number,
    /// A whole number.
    Integer,
    /// A percentage as a fraction (`12,5%` is 0.125, as Excel stores it).
    Percent,
    /// Yes or no (`Ya`/`Tidak`, `Y`/`T`, `true`/`false`, 1/0).
    YesNo,
}

/// The type names `[input.columns]` accepts.
pub const TYPE_NAMES: &str =
    "\"text\", \"nik\", \"nip\", \"date\", \"rupiah\", \"number\", \"integer\", \"percent\" or \"yes_no\"";

impl ColumnType {
    /// Parses a type name (case ignored).
    pub fn parse(name: &str) -> Result<ColumnType, String> {
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "text" => ColumnType::Text,
            "nik" => ColumnType::Nik,
            "nip" => ColumnType::Nip,
            "date" => ColumnType::Date,
            "rupiah" => ColumnType::Rupiah,
            "number" => ColumnType::Number,
            "integer" => ColumnType::Integer,
            "percent" => ColumnType::Percent,
            "yes_no" => ColumnType::YesNo,
            _ => {
                return Err(format!(
                    "\"{name}\" is not a column type juru knows; expected {TYPE_NAMES}"
                ))
            }
        })
    }
}

/// What is wrong with one value of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueProblem {
    /// An identifier stored as a number of more than 15 significant digits:
    /// Excel kept 15, the rest is lost.
    StoredAsNumber,
    /// An identifier with the wrong number of digits.
    Digits { expected: usize, text: String },
    /// Not a date juru reads.
    NotDate { text: String },
    /// Not a number (or not a whole one, for `integer`).
    NotNumber { text: String, whole: bool },
    /// Not yes or no.
    NotYesNo { text: String },
    /// A formula whose result is an error (`#VALUE!`, `#N/A`…).
    FormulaError { code: String },
    /// A formula saved without its result (a file written by a program, never
    /// opened and saved by Excel or LibreOffice).
    NoCachedValue,
}

/// A problem with the value of one cell of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellProblem {
    /// The cell as Excel names it (`E12`).
    pub cell: String,
    /// The column's header (after renaming).
    pub column: String,
    pub problem: ValueProblem,
}

impl CellProblem {
    /// The problem as an officer reads it: Indonesian unless `english`.
    pub fn describe(&self, english: bool) -> String {
        let (cell, col) = (&self.cell, &self.column);
        match (&self.problem, english) {
            (ValueProblem::StoredAsNumber, false) => format!(
                "{col} (sel {cell}) disimpan sebagai angka di Excel sehingga digit terakhir hilang; minta berkas dengan kolom {col} sebagai teks"
            ),
            (ValueProblem::StoredAsNumber, true) => format!(
                "{col} (cell {cell}) was stored as a number in Excel, so its last digits are lost; ask for the file with column {col} as text"
            ),
            (ValueProblem::Digits { expected, text }, false) => format!(
                "{col} harus {expected} digit, sel {cell} berisi \"{text}\" ({} digit)",
                digit_count(text)
            ),
            (ValueProblem::Digits { expected, text }, true) => format!(
                "{col} must have {expected} digits, cell {cell} holds \"{text}\" ({} digits)",
                digit_count(text)
            ),
            (ValueProblem::NotDate { text }, false) => format!(
                "sel {cell} (kolom {col}) bukan tanggal yang dikenali: \"{text}\"; tulis seperti 17/08/1985 atau 17 Agustus 1985"
            ),
            (ValueProblem::NotDate { text }, true) => format!(
                "cell {cell} (column {col}) is not a date juru reads: \"{text}\"; write it like 17/08/1985 or 17 Agustus 1985"
            ),
            (ValueProblem::NotNumber { text, whole: false }, false) => format!(
                "sel {cell} (kolom {col}) bukan angka: \"{text}\""
            ),
            (ValueProblem::NotNumber { text, whole: true }, false) => format!(
                "sel {cell} (kolom {col}) bukan bilangan bulat: \"{text}\""
            ),
            (ValueProblem::NotNumber { text, whole: false }, true) => format!(
                "cell {cell} (column {col}) is not a number: \"{text}\""
            ),
            (ValueProblem::NotNumber { text, whole: true }, true) => format!(
                "cell {cell} (column {col}) is not a whole number: \"{text}\""
            ),
            (ValueProblem::NotYesNo { text }, false) => format!(
                "sel {cell} (kolom {col}) harus Ya atau Tidak, berisi \"{text}\""
            ),
            (ValueProblem::NotYesNo { text }, true) => format!(
                "cell {cell} (column {col}) must be Ya or Tidak (yes or no), it holds \"{text}\""
            ),
            (ValueProblem::FormulaError { code }, false) => format!(
                "sel {cell} (kolom {col}) berisi galat {code}; perbaiki rumusnya di Excel lalu kirim ulang berkasnya"
            ),
            (ValueProblem::FormulaError { code }, true) => format!(
                "cell {cell} (column {col}) holds the error {code}; fix its formula in Excel and send the file again"
            ),
            (ValueProblem::NoCachedValue, false) => format!(
                "sel {cell} (kolom {col}) berisi rumus tanpa nilai tersimpan; buka berkas di Excel atau LibreOffice, simpan ulang, lalu kirim lagi"
            ),
            (ValueProblem::NoCachedValue, true) => format!(
                "cell {cell} (column {col}) holds a formula without a saved value; open the file in Excel or LibreOffice, save it and send it again"
            ),
        }
    }
}

impl fmt::Display for CellProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(true))
    }
}

fn digit_count(text: &str) -> usize {
    text.bytes().filter(u8::is_ascii_digit).count()
}

/// The value of a cell of a typed column, or what is wrong with it. `big`: the
/// cell was a number of 16 digits or more (read as its digits, but Excel kept
/// only 15 of them). Empty cells stay empty.
pub(super) fn normalise(
    cell: &Cell,
    ty: ColumnType,
    big: bool,
    is_1904: bool,
) -> Result<Cell, ValueProblem> {
    if cell.is_empty() {
        return Ok(Cell::Empty);
    }
    // The text of the value, only made when needed (most values pass as they are).
    let text = || cell.to_text();
    match ty {
        ColumnType::Text => {
            if big {
                Err(ValueProblem::StoredAsNumber)
            } else {
                Ok(match cell {
                    Cell::Text(_) => cell.clone(),
                    other => Cell::Text(other.to_text()),
                })
            }
        }
        ColumnType::Nik | ColumnType::Nip => {
            let expected = if ty == ColumnType::Nik { 16 } else { 18 };
            if big || matches!(cell, Cell::Float(_)) {
                return Err(ValueProblem::StoredAsNumber);
            }
            let label = if ty == ColumnType::Nik { "nik" } else { "nip" };
            let digits = match cell {
                // The usual case, already clean: no copy to clean.
                Cell::Text(t) if t.len() == expected && t.bytes().all(|b| b.is_ascii_digit()) => {
                    return Ok(cell.clone())
                }
                Cell::Text(t) => identifier(t, label),
                _ => identifier(&text(), label),
            };
            match digits {
                Some(d) if d.len() == expected => Ok(Cell::Text(d)),
                _ => Err(ValueProblem::Digits {
                    expected,
                    text: text(),
                }),
            }
        }
        ColumnType::Date => match cell {
            Cell::Date(_) | Cell::DateTime(_) => Ok(cell.clone()),
            Cell::Int(n) => date_from_serial(*n as f64, is_1904)
                .filter(|_| (1..=2_958_465).contains(n))
                .ok_or_else(|| ValueProblem::NotDate { text: text() }),
            Cell::Float(x) => {
                date_from_serial(*x, is_1904).ok_or_else(|| ValueProblem::NotDate { text: text() })
            }
            Cell::Text(t) => parse_date(t)
                .or_else(|| {
                    // A day number typed as text.
                    t.trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (20_000..=80_000).contains(n))
                        .and_then(|n| date_from_serial(f64::from(n), is_1904))
                })
                .ok_or_else(|| ValueProblem::NotDate { text: text() }),
            _ => Err(ValueProblem::NotDate { text: text() }),
        },
        ColumnType::Rupiah | ColumnType::Number | ColumnType::Integer | ColumnType::Percent => {
            let whole = ty == ColumnType::Integer;
            let not = || ValueProblem::NotNumber {
                text: text(),
                whole,
            };
            let x = match cell {
                Cell::Int(i) => *i as f64,
                Cell::Float(x) => *x,
                Cell::Text(t) => {
                    let (t, percent) = match t.trim().strip_suffix('%') {
                        Some(rest) => (rest, true),
                        None => (t.as_str(), false),
                    };
                    let x = parse_number(t).ok_or_else(not)?;
                    if percent || ty == ColumnType::Percent {
                        x / 100.0
                    } else {
                        x
                    }
                }
                _ => return Err(not()),
            };
            if big {
                return Err(ValueProblem::StoredAsNumber);
            }
            if whole && x.fract() != 0.0 {
                return Err(not());
            }
            Ok(number(x))
        }
        ColumnType::YesNo => match cell {
            Cell::Bool(_) => Ok(cell.clone()),
            Cell::Int(1) => Ok(Cell::Bool(true)),
            Cell::Int(0) => Ok(Cell::Bool(false)),
            Cell::Text(t) => yes_no(t)
                .map(Cell::Bool)
                .ok_or_else(|| ValueProblem::NotYesNo { text: text() }),
            _ => Err(ValueProblem::NotYesNo { text: text() }),
        },
    }
}

/// A whole number as [`Cell::Int`], else [`Cell::Float`].
fn number(x: f64) -> Cell {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        Cell::Int(x as i64)
    } else {
        Cell::Float(x)
    }
}

/// `Ya`/`Y`/`yes`/`true`/`benar`/`1` or `Tidak`/`T`/`no`/`N`/`false`/`salah`/`0`.
pub(super) fn yes_no(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "ya" | "y" | "yes" | "true" | "benar" | "1" | "iya" | "v" | "✓" => Some(true),
        "tidak" | "t" | "no" | "n" | "false" | "salah" | "0" | "tdk" | "bukan" => Some(false),
        _ => None,
    }
}

/// The digits of an identifier typed with spaces, dots, dashes or a leading
/// apostrophe (`'3217027001920004`, `19680512 199403 1 004`), also after its
/// label (`NIP. 1968…`); `None` when anything else is in it.
fn identifier(text: &str, label: &str) -> Option<String> {
    let t = text.trim().trim_start_matches('\'');
    let t = match t.get(..label.len()) {
        Some(head) if head.eq_ignore_ascii_case(label) => t[label.len()..]
            .trim_start_matches(['.', ':', ' '])
            .trim_start(),
        _ => t,
    };
    let mut digits = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '.' | '-' | '\u{a0}' => {}
            _ => return None,
        }
    }
    (!digits.is_empty()).then_some(digits)
}

/// A number written the Indonesian way: `.` between thousands, `,` before the
/// decimals (`1.250.000,50`, `875.500`, `12,5`), optionally after `Rp`/`Rp.`
/// and with a trailing `,-` (`Rp 50.000,-`). A single `.` not followed by
/// exactly three digits is a decimal point (`12.5`). `None` for anything else.
pub fn parse_number(text: &str) -> Option<f64> {
    let t: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
        .collect();
    let t = t
        .strip_prefix("Rp.")
        .or_else(|| t.strip_prefix("Rp"))
        .or_else(|| t.strip_prefix("RP"))
        .or_else(|| t.strip_prefix("rp"))
        .unwrap_or(&t);
    let t = t.strip_suffix(",-").unwrap_or(t);
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
    {
        return None;
    }
    let (whole, decimals) = match t.split_once(',') {
        Some((w, d)) => (w, Some(d)),
        None => (t, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(d) = decimals {
        if !digits(d) {
            return None;
        }
    }
    let whole_digits = if whole.contains('.') {
        let groups: Vec<&str> = whole.split('.').collect();
        let grouped = groups[0].len() <= 3
            && digits(groups[0])
            && groups[1..].iter().all(|g| g.len() == 3 && digits(g));
        if grouped {
            groups.concat()
        } else if groups.len() == 2 && decimals.is_none() && digits(groups[0]) && digits(groups[1])
        {
            // `12.5`: a decimal point.
            let x: f64 = format!("{}.{}", groups[0], groups[1]).parse().ok()?;
            return Some(if negative { -x } else { x });
        } else {
            return None;
        }
    } else if digits(whole) {
        whole.to_string()
    } else {
        return None;
    };
    let text = match decimals {
        Some(d) => format!("{whole_digits}.{d}"),
        None => whole_digits,
    };
    let x: f64 = text.parse().ok()?;
    Some(if negative { -x } else { x })
}

#[cfg(test)]
mod unit {
    use super::*;
    use chrono::NaiveDate;

    fn t(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    #[test]
    fn indonesian_numbers() {
        assert_eq!(parse_number("875.500"), Some(875_500.0));
        assert_eq!(parse_number("1.250.000"), Some(1_250_000.0));
        assert_eq!(parse_number("1.000.000,50"), Some(1_000_000.5));
        assert_eq!(parse_number("Rp 4.100.000"), Some(4_100_000.0));
        assert_eq!(parse_number("Rp. 50.000,-"), Some(50_000.0));
        assert_eq!(parse_number("12,5"), Some(12.5));
        assert_eq!(parse_number("12.5"), Some(12.5));
        assert_eq!(parse_number("-3"), Some(-3.0));
        assert_eq!(parse_number("1.2.3"), None);
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("1,2,3"), None);
    }

    #[test]
    fn identifiers_are_checked() {
        let nik = |c: Cell, big| normalise(&c, ColumnType::Nik, big, false);
        assert_eq!(
            nik(t("'3217027001920004"), false),
            Ok(t("3217027001920004"))
        );
        assert_eq!(
            nik(t("3217 0270 0192 0004"), false),
            Ok(t("3217027001920004"))
        );
        assert_eq!(
            nik(t("3217027001920000"), true),
            Err(ValueProblem::StoredAsNumber)
        );
        assert!(matches!(
            nik(t("321702700192000"), false),
            Err(ValueProblem::Digits { expected: 16, .. })
        ));
        let nip = |c: Cell| normalise(&c, ColumnType::Nip, false, false);
        assert_eq!(
            nip(t("NIP. 19680512 199403 1 004")),
            Ok(t("196805121994031004"))
        );
        let p = CellProblem {
            cell: "B5".into(),
            column: "NIP".into(),
            problem: ValueProblem::StoredAsNumber,
        };
        assert_eq!(
            p.describe(false),
            "NIP (sel B5) disimpan sebagai angka di Excel sehingga digit terakhir hilang; minta berkas dengan kolom NIP sebagai teks"
        );
    }

    #[test]
    fn dates_amounts_and_yes_no() {
        let d = |c: Cell| normalise(&c, ColumnType::Date, false, false);
        let aug = Cell::Date(NaiveDate::from_ymd_opt(1985, 8, 17).unwrap());
        assert_eq!(d(t("17 Agustus 1985")), Ok(aug.clone()));
        assert_eq!(d(t("17-08-1985")), Ok(aug.clone()));
        assert_eq!(d(t("17/8/1985")), Ok(aug.clone()));
        assert_eq!(
            d(Cell::Int(46090)),
            Ok(Cell::Date(NaiveDate::from_ymd_opt(2026, 3, 9).unwrap()))
        );
        assert!(matches!(d(t("besok")), Err(ValueProblem::NotDate { .. })));
        let r = |c: Cell| normalise(&c, ColumnType::Rupiah, false, false);
        assert_eq!(r(t("Rp 4.100.000")), Ok(Cell::Int(4_100_000)));
        assert_eq!(r(t("1.250.000,50")), Ok(Cell::Float(1_250_000.5)));
        assert_eq!(r(Cell::Int(875_500)), Ok(Cell::Int(875_500)));
        let p = |c: Cell| normalise(&c, ColumnType::Percent, false, false);
        assert_eq!(p(t("12,5%")), Ok(Cell::Float(0.125)));
        assert_eq!(p(Cell::Float(0.2)), Ok(Cell::Float(0.2)));
        let i = |c: Cell| normalise(&c, ColumnType::Integer, false, false);
        assert!(i(t("2,5")).is_err());
        let y = |c: Cell| normalise(&c, ColumnType::YesNo, false, false);
        assert_eq!(y(t("Ya")), Ok(Cell::Bool(true)));
        assert_eq!(y(t("T")), Ok(Cell::Bool(false)));
        assert_eq!(y(Cell::Int(1)), Ok(Cell::Bool(true)));
        assert!(y(t("mungkin")).is_err());
        assert_eq!(ColumnType::parse("NIK"), Ok(ColumnType::Nik));
        assert!(ColumnType::parse("nomor")
            .unwrap_err()
            .contains("expected \"text\""));
    }
}
