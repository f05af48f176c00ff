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
        err.contains("config/users.toml:2:8: siti.role: unknown role \"kepala\""),
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

/// The `error:` lines of a run, without the prefix.
fn errors(run: &crate::support::Run) -> Vec<String> {
    run.stderr()
        .lines()
        .filter_map(|l| l.strip_prefix("error: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_unknown_key_and_wrong_type_of_every_file_is_listed_with_its_line() {
    let p = Project::with_demo_bot();
    p.write(
        "config/agent.toml",
        "time_zone = \"Asia/Jakarta\"\nbahasa = \"id\"\n[browser]\nheadless = \"ya\"\ntimout = \"30s\"\n[limits]\nmax_browsers = \"dua\"\n",
    );
    p.write(
        "config/schedules.toml",
        "[pagi]\nbot = \"demo-perizinan\"\ncron = \"30 7 * * 1-5\"\nzona = \"Asia/Jakarta\"\n\n[sore]\nbot = \"demo-perizinan\"\ncron = \"0 16 * * 1-5\"\nenabled = \"tidak\"\novrelap = \"queue\"\n",
    );
    let manifest = std::fs::read_to_string(p.path("bots/demo-perizinan/bot.toml")).unwrap();
    let manifest = manifest
        .replace(
            "sheet = \"Permohonan\"",
            "sheet = \"Permohonan\"\ntrim = \"ya\"\nkolom = []",
        )
        .replace(
            "timeout_per_item = \"2m\"",
            "timeout_per_item = \"2m\"\nworkers = 1.5\npekerja = 2",
        );
    p.write("bots/demo-perizinan/bot.toml", &manifest);
    let line_of =
        |text: &str, start: &str| text.lines().position(|l| l.starts_with(start)).unwrap() + 1;
    p.write(
        "config/users.toml",
        "[siti]\nrole = \"officer\"\npassword_hash = \"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA\"\nbahasa = \"en\"\n\n[budi]\nrole = \"supervisor\"\npassword_hash = \"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA\"\nlanguage = 1\n",
    );

    let run = p.juru(&["check"]);
    assert_eq!(run.code(), 2, "{run}");
    let all = errors(&run);
    let bot = "bots/demo-perizinan/bot.toml";
    let expected = [
        "config/agent.toml:2:1: bahasa: unknown field `bahasa`".to_string(),
        "config/agent.toml:4:12: browser.headless: invalid type: string \"ya\", expected a boolean".to_string(),
        "config/agent.toml:5:1: browser.timout: unknown field `timout`".to_string(),
        "config/agent.toml:7:16: limits.max_browsers: invalid type: string \"dua\", expected i64".to_string(),
        format!("{bot}:{}:8: input.trim: invalid type: string \"ya\", expected a boolean", line_of(&manifest, "trim")),
        format!("{bot}:{}:1: input.kolom: unknown field `kolom`", line_of(&manifest, "kolom")),
        format!("{bot}:{}:11: run.workers: invalid type: floating point `1.5`, expected i64", line_of(&manifest, "workers")),
        format!("{bot}:{}:1: run.pekerja: unknown field `pekerja`", line_of(&manifest, "pekerja")),
        "config/schedules.toml:4:1: pagi.zona: unknown field `zona`".to_string(),
        "config/schedules.toml:9:11: sore.enabled: invalid type: string \"tidak\", expected a boolean".to_string(),
        "config/schedules.toml:10:1: sore.ovrelap: unknown field `ovrelap`".to_string(),
        "config/users.toml:4:1: siti.bahasa: unknown field `bahasa`".to_string(),
        "config/users.toml:9:12: budi.language: invalid type: integer `1`, expected a string".to_string(),
    ];
    for e in &expected {
        assert!(
            all.iter().any(|line| line.starts_with(e.as_str())),
            "missing {e:?}\n{run}"
        );
    }
    assert_eq!(all.len(), expected.len(), "each problem once\n{run}");
    assert!(
        run.stderr()
            .contains(&format!("{} problems found", expected.len())),
        "{run}"
    );
}

#[test]
fn users_problems_point_at_their_line() {
    let p = Project::with_demo_bot();
    p.write(
        "config/users.toml",
        "# dashboard users\n\n[Siti]\nrole = \"officer\"\npassword_hash = \"rahasia\"\nlanguage = \"jv\"\n",
    );
    let run = p.juru(&["check"]);
    assert_eq!(run.code(), 2, "{run}");
    assert_eq!(
        errors(&run),
        [
            "config/users.toml:3:2: [Siti]: a user name is 1 to 64 of a-z, 0-9, '.', '_' and '-'",
            "config/users.toml:5:17: Siti.password_hash: not an argon2 hash; set it with `juru users add Siti --role ROLE`",
            "config/users.toml:6:12: Siti.language: unknown language \"jv\", expected \"id\" or \"en\"",
        ],
        "{run}"
    );
}

#[test]
fn an_endless_loop_at_the_top_of_a_script_names_the_file_and_line() {
    let p = Project::with_demo_bot();
    let script = std::fs::read_to_string(p.path("bots/demo-perizinan/main.rhai")).unwrap();
    p.write(
        "bots/demo-perizinan/main.rhai",
        &format!("// set-up\nlet n = 0;\nwhile n >= 0 {{\n    n += 1;\n}}\n{script}"),
    );
    let run = p.juru(&["run", "demo-perizinan"]);
    assert_eq!(run.code(), 1, "{run}");
    let expected = "the script failed before the first item: bots/demo-perizinan/main.rhai:";
    let out = format!("{}{}", run.stdout(), run.stderr());
    let at = out
        .find(expected)
        .unwrap_or_else(|| panic!("wanted {expected}\n{run}"));
    let rest = &out[at + expected.len()..];
    let line: usize = rest
        .split(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a line number after the file\n{run}"));
    assert!(
        (3..=4).contains(&line),
        "the loop is on lines 3-4, not {line}\n{run}"
    );
    assert!(
        rest.contains("the script's top level (the statements outside any function) ran longer than its 10 s limit; is there an endless loop?"),
        "{run}"
    );
    assert!(!out.contains("the item took longer"), "{run}");
}
