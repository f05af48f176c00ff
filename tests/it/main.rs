//! Integration tests: the `juru` binary against real files, the bundled demo portal,
//! real chromedriver + Chromium, a real SMTP server. One test binary (see Cargo.toml
//! `autotests`).

mod support;

mod agent;
mod authoring;
mod browser_runs;
mod browser_verbs;
mod check;
mod cli_output;
mod crash;
mod dashboard;
mod fleet;
mod fleet_run;
mod fleet_web;
mod grid;
mod input;
mod inspect;
mod lifecycle;
mod mail;
mod metrics;
mod package;
mod quirks;
mod record;
mod reports;
mod runs;
mod sandbox;
mod schedules;
mod sheets;
mod simpeg;
mod store_tls;
mod web;
mod web_attacks;
mod workbooks;
