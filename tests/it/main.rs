//! Integration tests: the `juru` binary against real files, the bundled demo portal,
//! real chromedriver + Chromium, a real SMTP server. One test binary (see Cargo.toml
//! `autotests`).

mod support;

mod agent;
mod browser_runs;
mod check;
mod cli_output;
mod crash;
mod input;
mod lifecycle;
mod mail;
mod package;
mod quirks;
mod runs;
mod sandbox;
mod schedules;
mod sheets;
mod web;
mod web_attacks;
mod workbooks;
