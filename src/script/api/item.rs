//! `item`: the work item handed to `process(item)`.

use std::cell::RefCell;
use std::rc::Rc;

use rhai::{Dynamic, Engine, Map, INT};

use super::date::ScriptDate;
use super::{Failure, Res};
use crate::script::{ItemInput, MAX_STRING_BYTES};
use crate::sheet::Cell;

/// The work item handed to `process(item)`.
#[derive(Debug, Clone)]
pub struct Item {
    inner: Rc<RefCell<ItemState>>,
}

#[derive(Debug)]
struct ItemState {
    input: ItemInput,
    outputs: Vec<(String, Cell)>,
    /// The script said the item reached the system (`item.submitted()`).
    submitted: bool,
}

impl Item {
    pub(crate) fn new(input: ItemInput) -> Item {
        Item {
            inner: Rc::new(RefCell::new(ItemState {
                input,
                outputs: Vec::new(),
                submitted: false,
            })),
        }
    }

    pub(crate) fn outputs(&self) -> Vec<(String, Cell)> {
        self.inner.borrow().outputs.clone()
    }

    pub(crate) fn was_submitted(&self) -> bool {
        self.inner.borrow().submitted
    }

    fn get(&self, column: &str) -> Res<Dynamic> {
        let state = self.inner.borrow();
        let wanted = column.trim().to_lowercase();
        match state
            .input
            .fields
            .iter()
            .find(|(h, _)| h.trim().to_lowercase() == wanted)
        {
            Some((_, cell)) => Ok(cell_to_dynamic(cell)),
            None => {
                let names: Vec<String> = state
                    .input
                    .fields
                    .iter()
                    .map(|(h, _)| format!("\"{h}\""))
                    .collect();
                Err(Failure::system(
                    "script",
                    format!(
                        "the input has no column \"{column}\"; its columns are {}",
                        names.join(", ")
                    ),
                )
                .into())
            }
        }
    }

    /// Sets an output column. All of an item's outputs together hold at most
    /// [`MAX_STRING_BYTES`] of text.
    fn output(&self, name: &str, value: Dynamic) -> Res<()> {
        // A date as scripts see it ("31/12/2024") goes back to the workbook as a date.
        let cell = super::sheet::to_cell(&value);
        let mut state = self.inner.borrow_mut();
        let size = |n: &str, c: &Cell| n.len() + c.to_text().len();
        let others: usize = state
            .outputs
            .iter()
            .filter(|(n, _)| n != name)
            .map(|(n, c)| size(n, c))
            .sum();
        if others + size(name, &cell) > MAX_STRING_BYTES {
            let shown: String = name.chars().take(60).collect();
            return Err(Failure::system(
                "limit",
                format!(
                    "item.output(\"{shown}\"): the script went past a limit: the item's outputs would hold more than {} MiB of text",
                    MAX_STRING_BYTES / (1024 * 1024)
                ),
            )
            .into());
        }
        match state.outputs.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = cell,
            None => state.outputs.push((name.to_string(), cell)),
        }
        Ok(())
    }

    fn to_map(&self) -> Map {
        self.inner
            .borrow()
            .input
            .fields
            .iter()
            .map(|(h, c)| (h.as_str().into(), cell_to_dynamic(c)))
            .collect()
    }
}

/// A cell as a script value: text, INT, FLOAT, bool; dates as `Date` (printed
/// "dd/mm/yyyy"); empty as "".
pub fn cell_to_dynamic(cell: &Cell) -> Dynamic {
    match cell {
        Cell::Int(i) => Dynamic::from(*i as INT),
        Cell::Float(f) => Dynamic::from(*f),
        Cell::Bool(b) => Dynamic::from(*b),
        Cell::Date(_) | Cell::DateTime(_) => match ScriptDate::from_cell(cell) {
            Some(d) => Dynamic::from(d),
            None => Dynamic::from(cell.to_text()),
        },
        other => Dynamic::from(other.to_text()),
    }
}

/// A script value as a cell for the output workbook.
pub fn dynamic_to_cell(value: &Dynamic) -> Cell {
    if value.is_unit() {
        Cell::Empty
    } else if let Some(i) = value.clone().try_cast::<INT>() {
        Cell::Int(i)
    } else if let Some(f) = value.clone().try_cast::<f64>() {
        Cell::Float(f)
    } else if let Some(b) = value.clone().try_cast::<bool>() {
        Cell::Bool(b)
    } else if let Some(d) = value.clone().try_cast::<ScriptDate>() {
        d.to_cell()
    } else {
        let text = value.to_string();
        if text.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(text)
        }
    }
}

pub(super) fn register(engine: &mut Engine, shared: &std::rc::Rc<crate::script::Shared>) {
    engine.register_type_with_name::<Item>("Item");
    engine.register_indexer_get(|item: &mut Item, column: &str| item.get(column));
    engine.register_fn("get", |item: &mut Item, column: &str| item.get(column));
    engine.register_fn("output", |item: &mut Item, name: &str, value: Dynamic| {
        item.output(name, value)
    });
    engine.register_get("row", |item: &mut Item| {
        item.inner.borrow().input.row as INT
    });
    engine.register_get("index", |item: &mut Item| {
        item.inner.borrow().input.index as INT
    });
    engine.register_fn("to_map", |item: &mut Item| item.to_map());
    engine.register_fn("columns", |item: &mut Item| -> rhai::Array {
        item.inner
            .borrow()
            .input
            .fields
            .iter()
            .map(|(h, _)| Dynamic::from(h.clone()))
            .collect()
    });
    let s = shared.clone();
    engine.register_fn("submitted", move |item: &mut Item| {
        item.inner.borrow_mut().submitted = true;
        s.submitted();
    });
}
