//! The Rhai host: compiles a bot's `main.rhai` and runs its functions with the host
//! API (the browser, the item, logging, secrets, variables).
//!
//! Rhai is synchronous, so a [`Host`] lives on one blocking thread and reaches the
//! async browser through a tokio runtime handle. The sandbox: scripts see only what
//! this module registers (no files, no processes, no `eval`), and every evaluation is
//! bounded by the item's deadline and the run's cancel signal, both checked between
//! script operations and around every browser call.
//!
//! Errors come back as [`ScriptError`]: `Business` (the script said the data is
//! wrong), `System` (anything else), `TimedOut` and `Cancelled`.
//!
//! The bot-author reference for everything registered here is
//! `docs/bot-reference.md`; a test checks that it names every registered function.

mod api;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, EvalAltResult, Scope, AST};
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::browser::{Browser, BrowserError};
use crate::sheet::Cell;
use crate::Problem;

pub use api::Failure;

/// A script's text and the path it came from: plain data, free to send between
/// threads (a compiled [`Script`] is not).
#[derive(Debug, Clone)]
pub struct Source {
    pub text: String,
    /// The path as shown to people, e.g. `bots/izin/main.rhai`.
    pub shown: String,
}

impl Source {
    /// Reads a script file.
    pub fn load(path: &Path, shown: &str) -> Result<Source, Problem> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Problem::new(shown, format!("cannot read the script: {e}")))?;
        Ok(Source {
            text,
            shown: shown.to_string(),
        })
    }

    /// Compiles it; a syntax error is `path:LINE:COL: message`.
    pub fn compile(&self) -> Result<Script, Problem> {
        compile_text(&self.text, &self.shown)
    }
}

/// A compiled script (stays on the thread that compiled it).
#[derive(Debug, Clone)]
pub struct Script {
    pub ast: AST,
    /// The path as shown to people, e.g. `bots/izin/main.rhai`.
    pub shown: String,
}

impl Script {
    /// Whether the script defines `name` with `arity` parameters.
    pub fn defines(&self, name: &str, arity: usize) -> bool {
        self.ast
            .iter_functions()
            .any(|f| f.name == name && f.params.len() == arity)
    }
}

/// Compiles script text shown as `shown`.
pub fn compile_text(text: &str, shown: &str) -> Result<Script, Problem> {
    let engine = sandbox();
    let ast = engine.compile(text).map_err(|e| {
        let pos = e.position();
        let location = match (pos.line(), pos.position()) {
            (Some(l), Some(c)) => format!("{shown}:{l}:{c}"),
            (Some(l), None) => format!("{shown}:{l}"),
            _ => shown.to_string(),
        };
        Problem::new(location, e.0.to_string())
    })?;
    Ok(Script {
        ast,
        shown: shown.to_string(),
    })
}

/// An engine with the sandbox limits and nothing registered.
fn sandbox() -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_call_levels(64)
        .set_max_expr_depths(128, 64)
        .set_max_string_size(16 * 1024 * 1024)
        .set_max_array_size(1_000_000)
        .set_max_map_size(1_000_000)
        .disable_symbol("eval");
    engine
}

/// How an evaluation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptError {
    /// The data or the rules are wrong; a person must act. Never retried.
    Business { message: String },
    /// Anything else: browser trouble, a script bug, a missing element.
    System { message: String, kind: String },
    /// The item's time ran out.
    TimedOut { after: Duration },
    /// The run was asked to stop.
    Cancelled,
}

impl ScriptError {
    pub fn message(&self) -> String {
        match self {
            ScriptError::Business { message } | ScriptError::System { message, .. } => {
                message.clone()
            }
            ScriptError::TimedOut { after } => {
                format!("the item took longer than its {} s limit", after.as_secs())
            }
            ScriptError::Cancelled => "the run was stopped".into(),
        }
    }

    /// A stable word for history and reports.
    pub fn kind(&self) -> &str {
        match self {
            ScriptError::Business { .. } => "business",
            ScriptError::System { kind, .. } => kind,
            ScriptError::TimedOut { .. } => "timeout",
            ScriptError::Cancelled => "cancelled",
        }
    }
}

/// What a host needs from the run.
pub struct HostContext {
    pub handle: Handle,
    /// Becomes `true` when the run must stop.
    pub cancel: watch::Receiver<bool>,
    /// Folder of the run's files; screenshots go to `screenshots/` in it.
    pub work_dir: PathBuf,
    /// `[vars]` of bot.toml, with overrides.
    pub vars: BTreeMap<String, toml::Value>,
    /// Secrets that are not in the environment (e.g. the demo portal's).
    pub secrets: BTreeMap<String, String>,
    pub bot: String,
    /// How long the script's top level may run ([`TOP_LEVEL_LIMIT`]).
    pub top_level_limit: Duration,
}

/// State shared by the registered functions of one host.
pub(crate) struct Shared {
    handle: Handle,
    cancel: watch::Receiver<bool>,
    browser: RefCell<Option<Browser>>,
    deadline: RefCell<Option<(Instant, Duration)>>,
    work_dir: PathBuf,
    secrets: BTreeMap<String, String>,
    bot: String,
    item_log: RefCell<Vec<String>>,
    screenshots: RefCell<u32>,
    /// Constants declared at the script's top level, visible inside its functions.
    constants: RefCell<BTreeMap<String, Dynamic>>,
}

impl Shared {
    /// Runs a browser future to completion on the runtime, bounded by the item's
    /// deadline and the run's cancel signal.
    fn block_on<T>(
        &self,
        f: impl AsyncFnOnce(&Browser) -> Result<T, BrowserError>,
    ) -> Result<T, Box<EvalAltResult>> {
        let browser = self.browser.borrow();
        let Some(browser) = browser.as_ref() else {
            return Err(Failure::system("no_browser", "the browser is not open").into());
        };
        let deadline = *self.deadline.borrow();
        let mut cancel = self.cancel.clone();
        let result = self.handle.block_on(async {
            let limit = async {
                match deadline {
                    Some((at, _)) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = f(browser) => Some(r),
                _ = limit => None,
                _ = cancel.wait_for(|stop| *stop) => None,
            }
        });
        match result {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(Failure::from_browser(&e).into()),
            None if *self.cancel.borrow() => Err(stop_error(Failure::cancelled())),
            None => Err(stop_error(Failure::timed_out(
                deadline.map(|(_, d)| d).unwrap_or_default(),
            ))),
        }
    }

    fn log(&self, message: &str) {
        tracing::info!(bot = %self.bot, "{message}");
        self.item_log.borrow_mut().push(message.to_string());
    }
}

fn stop_error(f: Failure) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorTerminated(
        Dynamic::from(f),
        rhai::Position::NONE,
    ))
}

/// How long a script's top level (constants, setup outside functions) may run by default.
pub const TOP_LEVEL_LIMIT: Duration = Duration::from_secs(10);

/// One script host: an engine with the API registered, the compiled script, and
/// the browser it drives. Lives on one thread.
pub struct Host {
    engine: Engine,
    script: Script,
    scope: Scope<'static>,
    shared: Rc<Shared>,
}

/// One work item as the script sees it.
#[derive(Debug, Clone)]
pub struct ItemInput {
    pub index: usize,
    pub row: u32,
    pub fields: Vec<(String, Cell)>,
}

/// What a successful `process(item)` produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemResult {
    /// Output columns in the order the script set them.
    pub outputs: Vec<(String, Cell)>,
    pub log: Vec<String>,
}

impl Host {
    /// Compiles `source` and prepares the engine; runs the script's top level once.
    pub fn new(source: &Source, ctx: HostContext) -> Result<Host, ScriptError> {
        let script = source.compile().map_err(|p| ScriptError::System {
            message: p.to_string(),
            kind: "script".into(),
        })?;
        let shared = Rc::new(Shared {
            handle: ctx.handle,
            cancel: ctx.cancel,
            browser: RefCell::new(None),
            deadline: RefCell::new(None),
            work_dir: ctx.work_dir,
            secrets: ctx.secrets,
            bot: ctx.bot,
            item_log: RefCell::new(Vec::new()),
            screenshots: RefCell::new(0),
            constants: RefCell::new(BTreeMap::new()),
        });
        let mut engine = sandbox();
        let vars = ctx
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_dynamic(v)))
            .collect();
        api::register(&mut engine, &shared, vars);
        let s = shared.clone();
        engine.on_progress(move |_| {
            if *s.cancel.borrow() {
                return Some(Dynamic::from(Failure::cancelled()));
            }
            match *s.deadline.borrow() {
                Some((at, limit)) if Instant::now() >= at => {
                    Some(Dynamic::from(Failure::timed_out(limit)))
                }
                _ => None,
            }
        });
        let mut host = Host {
            engine,
            script,
            scope: Scope::new(),
            shared,
        };
        // Top-level statements (constants, setup) run once, within a time limit.
        let ast = host.script.ast.clone();
        let limit = ctx.top_level_limit;
        *host.shared.deadline.borrow_mut() = Some((Instant::now() + limit, limit));
        let top = host.engine.run_ast_with_scope(&mut host.scope, &ast);
        *host.shared.deadline.borrow_mut() = None;
        top.map_err(|e| classify(&host.script.shown, &e))?;
        *host.shared.constants.borrow_mut() = host
            .scope
            .iter()
            .filter(|(_, constant, _)| *constant)
            .map(|(name, _, value)| (name.to_string(), value))
            .collect();
        Ok(host)
    }

    /// The engine with the full API, for documentation checks.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Gives the host a browser session (closing none).
    pub fn set_browser(&self, browser: Option<Browser>) -> Option<Browser> {
        self.shared.browser.replace(browser)
    }

    pub fn browser(&self) -> std::cell::Ref<'_, Option<Browser>> {
        self.shared.browser.borrow()
    }

    pub fn defines(&self, name: &str, arity: usize) -> bool {
        self.script.defines(name, arity)
    }

    /// Calls a function without arguments if the script defines it (`init`, `finish`).
    pub fn call_optional(&mut self, name: &str, limit: Duration) -> Result<bool, ScriptError> {
        if !self.defines(name, 0) {
            return Ok(false);
        }
        self.call(name, (), limit).map(|_| true)
    }

    /// Calls `process(item)`.
    pub fn process(
        &mut self,
        input: ItemInput,
        limit: Duration,
    ) -> Result<ItemResult, ScriptError> {
        let item = api::Item::new(input);
        self.shared.item_log.borrow_mut().clear();
        self.call("process", (Dynamic::from(item.clone()),), limit)?;
        Ok(ItemResult {
            outputs: item.outputs(),
            log: self.shared.item_log.borrow().clone(),
        })
    }

    /// The log lines the current item wrote so far.
    pub fn item_log(&self) -> Vec<String> {
        self.shared.item_log.borrow().clone()
    }

    fn call(
        &mut self,
        name: &str,
        args: impl rhai::FuncArgs,
        limit: Duration,
    ) -> Result<(), ScriptError> {
        if *self.shared.cancel.borrow() {
            return Err(ScriptError::Cancelled);
        }
        *self.shared.deadline.borrow_mut() = Some((Instant::now() + limit, limit));
        let options = rhai::CallFnOptions::new()
            .eval_ast(false)
            .rewind_scope(true);
        let result = self.engine.call_fn_with_options::<Dynamic>(
            options,
            &mut self.scope,
            &self.script.ast,
            name,
            args,
        );
        *self.shared.deadline.borrow_mut() = None;
        result
            .map(|_| ())
            .map_err(|e| classify(&self.script.shown, &e))
    }
}

/// Turns a Rhai error into a [`ScriptError`], looking through function-call frames.
fn classify(shown: &str, err: &EvalAltResult) -> ScriptError {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => classify(shown, inner),
        EvalAltResult::ErrorRuntime(value, pos) | EvalAltResult::ErrorTerminated(value, pos) => {
            match value.clone().try_cast::<Failure>() {
                Some(f) => f.into_error(),
                None => ScriptError::System {
                    message: format!("{}: script threw: {value}", at(shown, *pos)),
                    kind: "script".into(),
                },
            }
        }
        other => ScriptError::System {
            message: format!("{}: {}", at(shown, other.position()), other.unwrap_inner()),
            kind: "script".into(),
        },
    }
}

fn toml_to_dynamic(v: &toml::Value) -> Dynamic {
    match v {
        toml::Value::String(s) => Dynamic::from(s.clone()),
        toml::Value::Integer(i) => Dynamic::from(*i),
        toml::Value::Float(f) => Dynamic::from(*f),
        toml::Value::Boolean(b) => Dynamic::from(*b),
        toml::Value::Datetime(d) => Dynamic::from(d.to_string()),
        toml::Value::Array(a) => Dynamic::from_array(a.iter().map(toml_to_dynamic).collect()),
        toml::Value::Table(t) => Dynamic::from_map(
            t.iter()
                .map(|(k, v)| (k.as_str().into(), toml_to_dynamic(v)))
                .collect(),
        ),
    }
}

fn at(shown: &str, pos: rhai::Position) -> String {
    match pos.line() {
        Some(l) => format!("{shown}:{l}"),
        None => shown.to_string(),
    }
}

#[cfg(test)]
mod tests;
