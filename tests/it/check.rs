//! `juru check`: every problem at once, with file and line, exit 2.

use crate::support::Project;

#[test]
fn the_repository_itself_checks_clean() {
    let p = Project::new();
    let run = p.juru(&[
        "--config",
        &format!("{}/config", crate::support::REPO),
        "--bots",
        &format!("{}/bots", crate::support::REPO),
        "check",
    ]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(run.stdout().contains("demo-perizinan"), "{run}");
}

#[test]
fn syntax_error_shows_script_line_and_column() {
    let p = Project::with_demo_bot();
    p.write(
        "bots/demo-perizinan/main.rhai",
        "fn process(item) {\n    browser.open(\"http://x\");\n    let nomor = ;\n}\n",
    );
    let run = p.juru(&["check"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr()
            .contains("bots/demo-perizinan/main.rhai:3:17: "),
        "{run}"
    );
}

#[test]
fn unknown_key_in_bot_toml_is_located() {
    let p = Project::with_demo_bot();
    let manifest = std::fs::read_to_string(p.path("bots/demo-perizinan/bot.toml")).unwrap();
    let manifest = manifest.replace("timeout_per_item", "timeout_per_itme");
    p.write("bots/demo-perizinan/bot.toml", &manifest);
    let line = manifest
        .lines()
        .position(|l| l.starts_with("timeout_per_itme"))
        .unwrap()
        + 1;
    let run = p.juru(&["check"]);
    assert_eq!(run.code(), 2, "{run}");
    let expected = format!("bots/demo-perizinan/bot.toml:{line}:1: run.timeout_per_itme: unknown field `timeout_per_itme`");
    assert!(run.stderr().contains(&expected), "wanted {expected}\n{run}");
}

#[test]
fn wrong_type_in_agent_toml_is_located() {
    let p = Project::with_demo_bot();
    p.write("config/agent.toml", "[browser]\nheadless = \"ya\"\n");
    let run = p.juru(&["check"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr()
            .contains("config/agent.toml:2:12: browser.headless: invalid type: string \"ya\", expected a boolean"),
        "{run}"
    );
}

#[test]
fn every_problem_is_listed_at_once() {
    let p = Project::with_demo_bot();
    p.write(
        "config/agent.toml",
        "time_zone = \"Asia/Jakrta\"\n[mail]\ntransport = \"pigeon\"\n",
    );
    copy_bot_as(&p, "kedua");
    p.write("bots/kedua/main.rhai", "fn proses(item) {}\n");
    let manifest = std::fs::read_to_string(p.path("bots/demo-perizinan/bot.toml")).unwrap();
    p.write(
        "bots/demo-perizinan/bot.toml",
        &manifest.replace(
            "timeout_per_item = \"2m\"",
            "timeout_per_item = \"2 menit\"",
        ),
    );
    p.write(
        "config/users.toml",
        "[siti]\nrole = \"kepala\"\npassword_hash = \"rahasia\"\n",
    );
    let run = p.juru(&["check"]);
    assert_eq!(run.code(), 2, "{run}");
    let err = run.stderr();
    assert!(
        err.contains("config/users.toml: siti.role: unknown role \"kepala\""),
        "{run}"
    );
    assert!(
        err.contains("config/agent.toml:1:13: time_zone: unknown time zone \"Asia/Jakrta\""),
        "{run}"
    );
    assert!(
        err.contains("config/agent.toml:3:13: mail.transport: unknown transport \"pigeon\""),
        "{run}"
    );
    assert!(err.contains("bots/kedua/bot.toml:4:8: name: \"demo-perizinan\" differs from the folder name \"kedua\""), "{run}");
    assert!(
        err.contains("bots/kedua/main.rhai: the script must define `fn process(item)`"),
        "{run}"
    );
    assert!(
        err.contains("bots/demo-perizinan/bot.toml:")
            && err.contains("run.timeout_per_item: expected a duration"),
        "{run}"
    );
    assert!(err.contains("7 problems found"), "{run}");
}

fn copy_bot_as(p: &Project, name: &str) {
    crate::support::copy_dir(
        &p.path("bots/demo-perizinan"),
        &p.path(&format!("bots/{name}")),
    );
}

#[test]
fn run_with_a_broken_bot_starts_nothing() {
    let p = Project::with_demo_bot();
    p.write(
        "bots/demo-perizinan/main.rhai",
        "fn process(item) {\n  let = 1;\n}\n",
    );
    let run = p.juru(&["run", "demo-perizinan"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr().contains("bots/demo-perizinan/main.rhai:2:"),
        "{run}"
    );
    p.assert_nothing_written();
}

#[test]
fn unknown_bot_names_the_known_ones() {
    let p = Project::with_demo_bot();
    let run = p.juru(&["run", "demo-perijinan"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr().contains("no bot named \"demo-perijinan\""),
        "{run}"
    );
    assert!(
        run.stderr().contains("the bots are: demo-perizinan"),
        "{run}"
    );
}

#[test]
fn help_explains_commands_and_exit_codes() {
    let p = Project::new();
    let run = p.juru(&["--help"]);
    assert_eq!(run.code(), 0, "{run}");
    for word in [
        "demo",
        "check",
        "run",
        "--config",
        "--bots",
        "--data",
        "Exit codes",
    ] {
        assert!(run.stdout().contains(word), "missing {word}: {run}");
    }
    let run = p.juru(&["run", "--help"]);
    assert!(
        run.stdout().contains("--input") && run.stdout().contains("--var"),
        "{run}"
    );
    let run = p.juru(&["run"]);
    assert_eq!(run.code(), 2, "{run}");
}
