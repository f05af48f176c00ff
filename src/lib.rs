//! juru: a robotic-process-automation agent for government back offices.
//!
//! Bots (`bots/<name>/bot.toml` + `main.rhai`) read a workbook, drive a legacy web
//! system through WebDriver, write the results back to a workbook and mail officers
//! the items that need a person. The house, in the order data flows:
//!
//! - [`config`] and [`bot`] load and validate what people wrote (agent.toml, bot.toml,
//!   main.rhai) and report every problem with its file and line or key;
//! - capability modules that know nothing of each other: [`browser`], [`sheet`],
//!   [`mail`], [`store`];
//! - [`script`] hosts a bot's Rhai script and gives it the browser and the item;
//! - [`run`] is the transaction loop over work items; [`report`] turns a finished run
//!   into the output workbooks and the summary mail;
//! - [`cli`] wires it together for `main.rs`; [`demo`] is the bundled legacy portal;
//!   [`web`] is the dashboard for supervisors and officers; [`inspect`] helps write
//!   a bot for a new system (`juru inspect`, `juru shell`).

pub mod agent;
pub mod bot;
pub mod browser;
pub mod cli;
pub mod config;
pub mod demo;
pub mod inspect;
pub mod mail;
pub mod problem;
pub mod report;
pub mod run;
pub mod schedule;
pub mod script;
pub mod sheet;
pub mod store;
pub mod web;

pub use problem::{Problem, Problems};
