//! Cells as JSON for the store: a row keeps its types (a date stays a date, a
//! 16-digit NIK stays text) so a resumed or retried run sees exactly what the first
//! one read from the workbook.

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{json, Value};

use crate::sheet::Cell;

fn cell_json(cell: &Cell) -> Value {
    match cell {
        Cell::Empty => Value::Null,
        Cell::Text(t) => json!(t),
        Cell::Int(i) => json!(i),
        Cell::Float(f) => json!({ "float": f }),
        Cell::Bool(b) => json!(b),
        Cell::Date(d) => json!({ "date": d.format("%Y-%m-%d").to_string() }),
        Cell::DateTime(d) => json!({ "datetime": d.format("%Y-%m-%dT%H:%M:%S%.f").to_string() }),
        Cell::Link { target, text } => json!({ "link": target, "text": text }),
    }
}

fn json_cell(value: &Value) -> Cell {
    match value {
        Value::Null => Cell::Empty,
        Value::String(s) => Cell::Text(s.clone()),
        Value::Bool(b) => Cell::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cell::Int(i),
            None => Cell::Float(n.as_f64().unwrap_or_default()),
        },
        Value::Object(o) => {
            if let Some(f) = o.get("float").and_then(Value::as_f64) {
                Cell::Float(f)
            } else if let Some(d) = o.get("date").and_then(Value::as_str) {
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map(Cell::Date)
                    .unwrap_or_else(|_| Cell::Text(d.to_string()))
            } else if let Some(d) = o.get("datetime").and_then(Value::as_str) {
                NaiveDateTime::parse_from_str(d, "%Y-%m-%dT%H:%M:%S%.f")
                    .map(Cell::DateTime)
                    .unwrap_or_else(|_| Cell::Text(d.to_string()))
            } else if let Some(target) = o.get("link").and_then(Value::as_str) {
                Cell::Link {
                    target: target.to_string(),
                    text: o
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or(target)
                        .to_string(),
                }
            } else {
                Cell::Text(value.to_string())
            }
        }
        Value::Array(_) => Cell::Text(value.to_string()),
    }
}

/// A row's cells as a JSON array.
pub fn row_to_json(cells: &[Cell]) -> String {
    Value::Array(cells.iter().map(cell_json).collect()).to_string()
}

/// A row back from [`row_to_json`]; `width` cells (missing ones empty).
pub fn row_from_json(text: &str, width: usize) -> Vec<Cell> {
    let mut cells: Vec<Cell> = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.as_array().map(|a| a.iter().map(json_cell).collect()))
        .unwrap_or_default();
    cells.resize(width.max(cells.len()), Cell::Empty);
    cells
}

/// Named outputs as a JSON array of `[name, value]` pairs (keeping their order).
pub fn outputs_to_json(outputs: &[(String, Cell)]) -> String {
    Value::Array(
        outputs
            .iter()
            .map(|(n, c)| Value::Array(vec![json!(n), cell_json(c)]))
            .collect(),
    )
    .to_string()
}

/// Outputs back from [`outputs_to_json`].
pub fn outputs_from_json(text: &str) -> Vec<(String, Cell)> {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(|pair| {
                        let name = pair.get(0)?.as_str()?.to_string();
                        Some((name, json_cell(pair.get(1)?)))
                    })
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// A list of strings as JSON (headers).
pub fn strings_to_json(values: &[String]) -> String {
    Value::Array(values.iter().map(|v| json!(v)).collect()).to_string()
}

pub fn strings_from_json(text: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_cell_survives() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let row = vec![
            Cell::Text("3326011203850001".into()),
            Cell::Int(42),
            Cell::Float(2.5),
            Cell::Float(3.0),
            Cell::Bool(true),
            Cell::Date(d),
            Cell::DateTime(d.and_hms_opt(8, 30, 0).unwrap()),
            Cell::Empty,
        ];
        assert_eq!(row_from_json(&row_to_json(&row), 8), row);
        assert_eq!(row_from_json(&row_to_json(&row), 9).len(), 9);
        let outputs = vec![
            ("Nomor".to_string(), Cell::Text("503/1".into())),
            ("Ok".into(), Cell::Bool(false)),
        ];
        assert_eq!(outputs_from_json(&outputs_to_json(&outputs)), outputs);
        assert_eq!(
            strings_from_json(&strings_to_json(&["NIK".into()])),
            vec!["NIK".to_string()]
        );
    }
}
