//! The functions a bot script can call. Each registration here has an entry in
//! `docs/bot-reference.md` (checked by a test).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use rhai::{Dynamic, Engine, EvalAltResult, Map, INT};

use super::{ItemInput, ScriptError, Shared};
use crate::browser::{BrowserError, FieldValue};
use crate::sheet::Cell;

type Res<T> = Result<T, Box<EvalAltResult>>;

/// The value a host function throws: how the item failed.
#[derive(Debug, Clone)]
pub struct Failure {
    business: bool,
    kind: String,
    message: String,
    stop: Option<Stop>,
}

#[derive(Debug, Clone, Copy)]
enum Stop {
    Cancelled,
    TimedOut(Duration),
}

impl Failure {
    pub fn business(message: impl Into<String>) -> Failure {
        Failure {
            business: true,
            kind: "business".into(),
            message: message.into(),
            stop: None,
        }
    }

    pub fn system(kind: &str, message: impl Into<String>) -> Failure {
        Failure {
            business: false,
            kind: kind.into(),
            message: message.into(),
            stop: None,
        }
    }

    pub fn from_browser(e: &BrowserError) -> Failure {
        Failure::system(e.kind(), e.to_string())
    }

    pub(super) fn cancelled() -> Failure {
        Failure {
            stop: Some(Stop::Cancelled),
            ..Failure::system("cancelled", "the run was stopped")
        }
    }

    pub(super) fn timed_out(after: Duration) -> Failure {
        Failure {
            stop: Some(Stop::TimedOut(after)),
            ..Failure::system("timeout", "the item ran out of time")
        }
    }

    pub(super) fn into_error(self) -> ScriptError {
        match (self.stop, self.business) {
            (Some(Stop::Cancelled), _) => ScriptError::Cancelled,
            (Some(Stop::TimedOut(after)), _) => ScriptError::TimedOut { after },
            (None, true) => ScriptError::Business {
                message: self.message,
            },
            (None, false) => ScriptError::System {
                message: self.message,
                kind: self.kind,
            },
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Failure> for Box<EvalAltResult> {
    fn from(f: Failure) -> Self {
        Box::new(EvalAltResult::ErrorRuntime(
            Dynamic::from(f),
            rhai::Position::NONE,
        ))
    }
}

/// The work item handed to `process(item)`.
#[derive(Debug, Clone)]
pub struct Item {
    inner: Rc<RefCell<ItemState>>,
}

#[derive(Debug)]
struct ItemState {
    input: ItemInput,
    outputs: Vec<(String, Cell)>,
}

impl Item {
    pub(super) fn new(input: ItemInput) -> Item {
        Item {
            inner: Rc::new(RefCell::new(ItemState {
                input,
                outputs: Vec::new(),
            })),
        }
    }

    pub(super) fn outputs(&self) -> Vec<(String, Cell)> {
        self.inner.borrow().outputs.clone()
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

    fn output(&self, name: &str, value: Dynamic) {
        let cell = dynamic_to_cell(&value);
        let mut state = self.inner.borrow_mut();
        match state.outputs.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = cell,
            None => state.outputs.push((name.to_string(), cell)),
        }
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

/// A cell as a script value: text, INT, FLOAT, bool; dates as "dd/mm/yyyy"; empty as "".
pub fn cell_to_dynamic(cell: &Cell) -> Dynamic {
    match cell {
        Cell::Int(i) => Dynamic::from(*i as INT),
        Cell::Float(f) => Dynamic::from(*f),
        Cell::Bool(b) => Dynamic::from(*b),
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
    } else {
        let text = value.to_string();
        if text.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(text)
        }
    }
}

fn field_value(value: &Dynamic) -> FieldValue {
    match value.clone().try_cast::<bool>() {
        Some(b) => FieldValue::Flag(b),
        None => FieldValue::Text(value.to_string()),
    }
}

/// The `browser` object.
#[derive(Clone)]
pub struct BrowserApi {
    shared: Rc<Shared>,
}

fn safe_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches('-');
    if cleaned.is_empty() {
        "screenshot".into()
    } else {
        cleaned.chars().take(80).collect()
    }
}

impl BrowserApi {
    fn screenshot_path(&self, name: &str) -> (String, std::path::PathBuf) {
        let mut n = self.shared.screenshots.borrow_mut();
        *n += 1;
        let relative = format!("screenshots/{}-{:03}.png", safe_file_name(name), *n);
        let full = self.shared.work_dir.join(&relative);
        (relative, full)
    }
}

pub(super) fn register(engine: &mut Engine, shared: &Rc<Shared>, vars: BTreeMap<String, Dynamic>) {
    engine.register_type_with_name::<Failure>("Failure");
    engine.register_fn("to_string", |f: &mut Failure| f.to_string());

    // ---- globals: browser, vars -------------------------------------------------
    let browser = BrowserApi {
        shared: shared.clone(),
    };
    let vars: Map = vars.into_iter().map(|(k, v)| (k.into(), v)).collect();
    let s = shared.clone();
    #[allow(deprecated)]
    engine.on_var(move |name, index, _| match name {
        "browser" => Ok(Some(Dynamic::from(browser.clone()))),
        "vars" => Ok(Some(Dynamic::from(vars.clone()))),
        // Top-level constants inside functions (Rhai functions see no outer scope);
        // a local variable of the same name (index > 0) wins.
        _ if index == 0 => Ok(s.constants.borrow().get(name).cloned()),
        _ => Ok(None),
    });

    // ---- log, print, secret, fail_business ------------------------------------
    let s = shared.clone();
    engine.on_print(move |text| s.log(text));
    let s = shared.clone();
    engine.on_debug(move |text, _, pos| {
        s.log(&format!(
            "debug at line {}: {text}",
            pos.line().unwrap_or(0)
        ))
    });
    let s = shared.clone();
    engine.register_fn("log", move |message: &str| s.log(message));
    let s = shared.clone();
    engine.register_fn("secret", move |name: &str| -> Res<String> {
        let var = format!(
            "JURU_SECRET_{}",
            name.to_uppercase().replace(['-', '.', ' '], "_")
        );
        if let Ok(value) = std::env::var(&var) {
            return Ok(value);
        }
        s.secrets.get(name).cloned().ok_or_else(|| {
            Failure::system(
                "secret_missing",
                format!("the secret \"{name}\" is not set: set the environment variable {var}"),
            )
            .into()
        })
    });
    engine.register_fn("fail_business", |reason: &str| -> Res<()> {
        Err(Failure::business(reason).into())
    });

    // ---- item -------------------------------------------------------------------
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

    // ---- browser ----------------------------------------------------------------
    engine.register_type_with_name::<BrowserApi>("Browser");
    engine.register_fn("open", |b: &mut BrowserApi, url: &str| {
        b.shared.block_on(async |br| br.goto(url).await)
    });
    engine.register_fn("click", |b: &mut BrowserApi, selector: &str| {
        b.shared.block_on(async |br| br.click(selector).await)
    });
    engine.register_fn(
        "click",
        |b: &mut BrowserApi, selector: &str, options: Map| -> Res<()> {
            let confirm = match options.get("confirm") {
                None => None,
                Some(v) => Some(v.as_bool().map_err(|_| {
                    Failure::system("script", "click option `confirm` must be true or false")
                })?),
            };
            if let Some(key) = options.keys().find(|k| k.as_str() != "confirm") {
                return Err(Failure::system(
                    "script",
                    format!("unknown click option `{key}`; the options are: confirm"),
                )
                .into());
            }
            b.shared.block_on(async |br| {
                br.click(selector).await?;
                match confirm {
                    Some(true) => br.accept_dialog().await.map(|_| ()),
                    Some(false) => br.dismiss_dialog().await.map(|_| ()),
                    None => Ok(()),
                }
            })
        },
    );
    engine.register_fn("click_link", |b: &mut BrowserApi, text: &str| {
        b.shared.block_on(async |br| br.click_link(text).await)
    });
    engine.register_fn(
        "fill",
        |b: &mut BrowserApi, selector: &str, value: Dynamic| {
            let value = field_value(&value);
            b.shared.block_on(async |br| br.set(selector, &value).await)
        },
    );
    engine.register_fn("fill_form", |b: &mut BrowserApi, fields: Map| {
        let fields: Vec<(String, FieldValue)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), field_value(v)))
            .collect();
        b.shared.block_on(async |br| {
            for (selector, value) in &fields {
                br.set(selector, value).await?;
            }
            Ok(())
        })
    });
    engine.register_fn("text", |b: &mut BrowserApi, selector: &str| {
        b.shared.block_on(async |br| br.text(selector).await)
    });
    engine.register_fn("text_if_present", |b: &mut BrowserApi, selector: &str| {
        b.shared
            .block_on(async |br| br.text_if_present(selector).await)
    });
    engine.register_fn("value", |b: &mut BrowserApi, selector: &str| {
        b.shared.block_on(async |br| br.value(selector).await)
    });
    engine.register_fn("exists", |b: &mut BrowserApi, selector: &str| {
        b.shared.block_on(async |br| br.exists(selector).await)
    });
    engine.register_fn("wait_for", |b: &mut BrowserApi, selector: &str| {
        b.shared.block_on(async |br| br.wait_for(selector).await)
    });
    engine.register_fn("wait_for_text", |b: &mut BrowserApi, text: &str| {
        b.shared.block_on(async |br| br.wait_for_text(text).await)
    });
    engine.register_fn("accept_dialog", |b: &mut BrowserApi| {
        b.shared.block_on(async |br| br.accept_dialog().await)
    });
    engine.register_fn("dismiss_dialog", |b: &mut BrowserApi| {
        b.shared.block_on(async |br| br.dismiss_dialog().await)
    });
    engine.register_fn("url", |b: &mut BrowserApi| {
        b.shared.block_on(async |br| br.url().await)
    });
    engine.register_fn("title", |b: &mut BrowserApi| {
        b.shared.block_on(async |br| br.title().await)
    });
    engine.register_fn(
        "screenshot",
        |b: &mut BrowserApi, name: &str| -> Res<String> {
            let (relative, full) = b.screenshot_path(name);
            b.shared.block_on(async |br| br.screenshot(&full).await)?;
            Ok(relative)
        },
    );
    engine.register_fn(
        "screenshot",
        |b: &mut BrowserApi, selector: &str, name: &str| -> Res<String> {
            let (relative, full) = b.screenshot_path(name);
            b.shared
                .block_on(async |br| br.screenshot_element(selector, &full).await)?;
            Ok(relative)
        },
    );
}
