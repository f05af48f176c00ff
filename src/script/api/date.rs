//! `Date`: a date (or date and time) from a workbook, as scripts see it. It
//! prints as `dd/mm/yyyy` (`dd/mm/yyyy HH:MM:SS` with a time), is told apart
//! from text with `type_of(v) == "Date"`, gives `.day`, `.month`, `.year`
//! (`.hour`, `.minute`, `.second`) and `.iso()`, compares with other dates
//! (`==`, `<`, …) and, by its printed form, with text, so a script that
//! compares `item["Tanggal"] == "31/12/2024"` keeps working.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rhai::{Dynamic, Engine, ImmutableString, INT};

use crate::sheet::Cell;

/// A workbook date in a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScriptDate {
    at: NaiveDateTime,
    /// It came with a time of day (a date-time cell).
    timed: bool,
}

impl ScriptDate {
    pub fn from_cell(cell: &Cell) -> Option<ScriptDate> {
        match cell {
            Cell::Date(d) => Some(ScriptDate {
                at: d.and_time(NaiveTime::MIN),
                timed: false,
            }),
            Cell::DateTime(at) => Some(ScriptDate {
                at: *at,
                timed: true,
            }),
            _ => None,
        }
    }

    pub fn to_cell(self) -> Cell {
        if self.timed {
            Cell::DateTime(self.at)
        } else {
            Cell::Date(self.at.date())
        }
    }

    /// `dd/mm/yyyy`, or `dd/mm/yyyy HH:MM:SS` with a time: as [`Cell::to_text`].
    pub fn text(&self) -> String {
        self.to_cell().to_text()
    }

    fn iso(&self) -> String {
        if self.timed {
            self.at.format("%Y-%m-%dT%H:%M:%S").to_string()
        } else {
            self.at.format("%Y-%m-%d").to_string()
        }
    }
}

/// A script value as text: a date in its printed form, anything else as Rhai
/// prints it.
pub fn text_of(value: &Dynamic) -> String {
    match value.clone().try_cast::<ScriptDate>() {
        Some(d) => d.text(),
        None => value.to_string(),
    }
}

pub(super) fn register(engine: &mut Engine) {
    engine.register_type_with_name::<ScriptDate>("Date");
    engine.register_fn("to_string", |d: &mut ScriptDate| d.text());
    engine.register_fn("to_debug", |d: &mut ScriptDate| d.text());
    engine.register_get("day", |d: &mut ScriptDate| d.at.day() as INT);
    engine.register_get("month", |d: &mut ScriptDate| d.at.month() as INT);
    engine.register_get("year", |d: &mut ScriptDate| d.at.year() as INT);
    engine.register_get("hour", |d: &mut ScriptDate| d.at.hour() as INT);
    engine.register_get("minute", |d: &mut ScriptDate| d.at.minute() as INT);
    engine.register_get("second", |d: &mut ScriptDate| d.at.second() as INT);
    engine.register_fn("iso", |d: &mut ScriptDate| d.iso());
    engine.register_fn("==", |a: ScriptDate, b: ScriptDate| a == b);
    engine.register_fn("!=", |a: ScriptDate, b: ScriptDate| a != b);
    engine.register_fn("<", |a: ScriptDate, b: ScriptDate| a < b);
    engine.register_fn("<=", |a: ScriptDate, b: ScriptDate| a <= b);
    engine.register_fn(">", |a: ScriptDate, b: ScriptDate| a > b);
    engine.register_fn(">=", |a: ScriptDate, b: ScriptDate| a >= b);
    engine.register_fn("==", |a: ScriptDate, b: ImmutableString| {
        a.text() == b.as_str()
    });
    engine.register_fn("!=", |a: ScriptDate, b: ImmutableString| {
        a.text() != b.as_str()
    });
    engine.register_fn("==", |a: ImmutableString, b: ScriptDate| {
        b.text() == a.as_str()
    });
    engine.register_fn("!=", |a: ImmutableString, b: ScriptDate| {
        b.text() != a.as_str()
    });
    engine.register_fn("+", |a: ImmutableString, b: ScriptDate| {
        format!("{a}{}", b.text())
    });
    engine.register_fn("+", |a: ScriptDate, b: ImmutableString| {
        format!("{}{b}", a.text())
    });
    // Days between two dates (`b - a`), and a date some days later.
    engine.register_fn("-", |a: ScriptDate, b: ScriptDate| {
        (a.at.date() - b.at.date()).num_days() as INT
    });
    engine.register_fn("+", |a: ScriptDate, days: INT| -> ScriptDate {
        match a.at.checked_add_signed(chrono::Duration::days(days)) {
            Some(at) => ScriptDate { at, ..a },
            None => a,
        }
    });
    engine.register_fn("date", |year: INT, month: INT, day: INT| -> Dynamic {
        let d = (|| {
            NaiveDate::from_ymd_opt(
                i32::try_from(year).ok()?,
                u32::try_from(month).ok()?,
                u32::try_from(day).ok()?,
            )
        })();
        match d {
            Some(d) => Dynamic::from(ScriptDate {
                at: d.and_time(NaiveTime::MIN),
                timed: false,
            }),
            None => Dynamic::UNIT,
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_scripts() {
        let mut engine = Engine::new();
        register(&mut engine);
        let d = ScriptDate::from_cell(&Cell::Date(NaiveDate::from_ymd_opt(2026, 3, 9).unwrap()))
            .unwrap();
        let mut scope = rhai::Scope::new();
        scope.push("d", d);
        let eval = |script: &str, scope: &mut rhai::Scope| {
            engine
                .eval_with_scope::<Dynamic>(scope, script)
                .unwrap_or_else(|e| panic!("{script}: {e}"))
        };
        let text = |v: Dynamic| text_of(&v);
        assert_eq!(text(eval("`${d}`", &mut scope)), "09/03/2026");
        assert_eq!(text(eval("type_of(d)", &mut scope)), "Date");
        assert_eq!(text(eval("d.iso()", &mut scope)), "2026-03-09");
        assert_eq!(
            text(eval("[d.day, d.month, d.year]", &mut scope)),
            "[9, 3, 2026]"
        );
        assert_eq!(text(eval("d == \"09/03/2026\"", &mut scope)), "true");
        assert_eq!(text(eval("d < date(2026, 3, 10)", &mut scope)), "true");
        assert_eq!(text(eval("date(2026, 4, 1) - d", &mut scope)), "23");
        assert_eq!(text(eval("\"tgl \" + d", &mut scope)), "tgl 09/03/2026");
        assert_eq!(text(eval("d + 1", &mut scope)), "10/03/2026");
        assert_eq!(text(eval("type_of(date(2026, 2, 30))", &mut scope)), "()");
    }
}
