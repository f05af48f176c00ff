//! Integration tests: the `juru` binary against real files, the bundled demo portal,
//! real chromedriver + Chromium. One test binary (see Cargo.toml `autotests`).

mod support;

mod browser_runs;
mod check;
mod input;
mod smtp;
