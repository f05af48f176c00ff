//! The functions a bot script can call, one file per capability. Each registration
//! has an entry in `docs/bot-reference.md` (checked by a test).

mod browser;
pub mod date;
pub(crate) mod item;
mod mail;
mod sheet;

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use rhai::{Dynamic, Engine, EvalAltResult, Map};

use super::{ScriptError, Shared};
use crate::browser::BrowserError;

pub use item::Item;

pub(super) type Res<T> = Result<T, Box<EvalAltResult>>;

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

    /// The stable word for this failure.
    pub fn kind(&self) -> &str {
        &self.kind
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

pub(super) fn register(engine: &mut Engine, shared: &Rc<Shared>, vars: BTreeMap<String, Dynamic>) {
    engine.register_type_with_name::<Failure>("Failure");
    engine.register_fn("to_string", |f: &mut Failure| f.to_string());

    // ---- globals: browser, vars -------------------------------------------------
    let browser = browser::BrowserApi::new(shared);
    let vars: Map = vars.into_iter().map(|(k, v)| (k.into(), v)).collect();
    let s = shared.clone();
    #[allow(deprecated)]
    engine.on_var(move |name, index, mut ctx| match name {
        // The first use opens the browser (and logs in): see Shared::browser_on_demand.
        "browser" => {
            s.browser_on_demand(&mut ctx)?;
            Ok(Some(Dynamic::from(browser.clone())))
        }
        "vars" => Ok(Some(Dynamic::from(vars.clone()))),
        // Top-level constants inside functions (Rhai functions see no outer scope);
        // a local variable of the same name (index > 0) wins.
        _ if index == 0 => Ok(s.constants.borrow().get(name).cloned()),
        _ => Ok(None),
    });

    // ---- log, print, secret, fail_business, fail_system---------------------------------
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
    // A failure juru retries like any system exception (browser restart, backoff,
    // `verify(item)` first when the item was submitted).
    engine.register_fn("fail_system", |reason: &str| -> Res<()> {
        Err(Failure::system("reported", reason).into())
    });

    date::register(engine);
    item::register(engine, shared);
    browser::register(engine, shared);
    mail::register(engine, shared);
    sheet::register(engine, shared);
}
