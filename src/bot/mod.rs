//! A bot: the folder `bots/<name>/` with its manifest `bot.toml` and its script
//! `main.rhai`, loaded, validated and compiled before anything runs.
//!
//! Loading collects every problem in the manifest and the script at once (file,
//! line and key). Blocking and cheap.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::config::{self, Located};
use crate::script::Source;
use crate::{Problem, Problems};

/// A loaded, valid bot.
#[derive(Debug, Clone)]
pub struct Bot {
    pub name: String,
    pub description: String,
    /// The bot folder.
    pub dir: PathBuf,
    pub input: Input,
    pub timeout_per_item: Duration,
    pub officers: Vec<String>,
    pub supervisors: Vec<String>,
    /// `[vars]`: values the script reads as `vars.NAME`.
    pub vars: BTreeMap<String, toml::Value>,
    /// `main.rhai`, checked to compile and to define `process(item)`.
    pub script: Source,
}

#[derive(Debug, Clone)]
pub struct Input {
    /// The workbook, relative to the bot folder unless absolute.
    pub workbook: PathBuf,
    /// Sheet name; `None` = the first sheet.
    pub sheet: Option<String>,
    /// Columns that must exist.
    pub required: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BotFile {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    input: InputFile,
    #[serde(default)]
    run: RunFile,
    #[serde(default)]
    notify: NotifyFile,
    #[serde(default)]
    vars: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputFile {
    workbook: Spanned<String>,
    sheet: Option<String>,
    #[serde(default)]
    required: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunFile {
    timeout_per_item: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotifyFile {
    #[serde(default)]
    officers: Vec<Spanned<String>>,
    #[serde(default)]
    supervisors: Vec<Spanned<String>>,
}

/// The names of the bot folders under `bots_dir` (folders holding a bot.toml), sorted.
pub fn list(bots_dir: &Path) -> Result<Vec<String>, Problem> {
    let entries = std::fs::read_dir(bots_dir).map_err(|e| {
        Problem::new(
            bots_dir.display().to_string(),
            format!("cannot read the bots folder: {e}"),
        )
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("bot.toml").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// Loads `bots_dir/<name>`: manifest and script, every problem at once.
pub fn load(bots_dir: &Path, name: &str) -> Result<Bot, Problems> {
    let dir = bots_dir.join(name);
    let manifest = dir.join("bot.toml");
    let script_path = dir.join("main.rhai");
    if !manifest.is_file() {
        let known = list(bots_dir).unwrap_or_default();
        let hint = if known.is_empty() {
            format!("there are no bots in {}", bots_dir.display())
        } else {
            format!("the bots are: {}", known.join(", "))
        };
        return Err(Problem::new(
            manifest.display().to_string(),
            format!("no bot named \"{name}\" (missing bot.toml); {hint}"),
        )
        .into());
    }
    let shown = manifest.display().to_string();
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| Problem::new(&shown, format!("cannot read the manifest: {e}")))?;
    let mut problems = Problems::default();
    let parsed: Option<BotFile> = match config::parse_toml(&shown, &text) {
        Ok(f) => Some(f),
        Err(p) => {
            problems.0.push(p);
            None
        }
    };
    let script_shown = script_path.display().to_string();
    let script = match Source::load(&script_path, &script_shown)
        .and_then(|source| source.compile().map(|compiled| (source, compiled)))
    {
        Ok((source, compiled)) => {
            if !compiled.defines("process", 1) {
                problems.push(
                    &script_shown,
                    "the script must define `fn process(item)`, called once for each work item",
                );
            }
            Some(source)
        }
        Err(p) => {
            problems.0.push(p);
            None
        }
    };
    let at = Located {
        shown: &shown,
        text: &text,
    };
    let bot = parsed.map(|f| f.validate(name, &dir, &at, &mut problems));
    match (bot, script, problems.is_empty()) {
        (Some(mut bot), Some(script), true) => {
            bot.script = script;
            Ok(bot)
        }
        _ => Err(problems),
    }
}

impl BotFile {
    fn validate(self, folder: &str, dir: &Path, at: &Located, problems: &mut Problems) -> Bot {
        if self.name.get_ref() != folder {
            problems.0.push(at.problem(
                &self.name,
                "name",
                format!(
                    "\"{}\" differs from the folder name \"{folder}\"; they must be the same",
                    self.name.get_ref()
                ),
            ));
        }
        if self.input.workbook.get_ref().trim().is_empty() {
            problems.0.push(at.problem(
                &self.input.workbook,
                "input.workbook",
                "must name the input workbook, e.g. \"inbox/permohonan.xlsx\"",
            ));
        }
        let timeout_per_item = match &self.run.timeout_per_item {
            None => Duration::from_secs(180),
            Some(v) => config::parse_duration(v.get_ref()).unwrap_or_else(|m| {
                problems.0.push(at.problem(v, "run.timeout_per_item", m));
                Duration::from_secs(180)
            }),
        };
        let mut addresses = |list: Vec<Spanned<String>>, key: &str| -> Vec<String> {
            list.into_iter()
                .filter_map(|a| match crate::mail::parse_mailbox(a.get_ref()) {
                    Ok(_) => Some(a.into_inner()),
                    Err(m) => {
                        problems.0.push(at.problem(&a, key, m));
                        None
                    }
                })
                .collect()
        };
        let officers = addresses(self.notify.officers, "notify.officers");
        let supervisors = addresses(self.notify.supervisors, "notify.supervisors");
        Bot {
            name: folder.to_string(),
            description: self.description,
            dir: dir.to_path_buf(),
            input: Input {
                workbook: PathBuf::from(self.input.workbook.into_inner()),
                sheet: self.input.sheet,
                required: self.input.required,
            },
            timeout_per_item,
            officers,
            supervisors,
            vars: self.vars,
            script: Source {
                text: String::new(),
                shown: String::new(),
            },
        }
    }
}

impl Bot {
    /// The input workbook path: `override_path` if given, else the manifest's, taken
    /// relative to the bot folder.
    pub fn input_path(&self, override_path: Option<&Path>) -> PathBuf {
        match override_path {
            Some(p) => p.to_path_buf(),
            None if self.input.workbook.is_absolute() => self.input.workbook.clone(),
            None => self.dir.join(&self.input.workbook),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot_dir(manifest: &str, script: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path().join("izin");
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join("bot.toml"), manifest).unwrap();
        std::fs::write(b.join("main.rhai"), script).unwrap();
        dir
    }

    const OK: &str = "name = \"izin\"\n[input]\nworkbook = \"in.xlsx\"\nrequired = [\"NIK\"]\n[notify]\nofficers = [\"loket@example.go.id\"]\n[vars]\nportal_url = \"http://127.0.0.1:1\"\n";

    #[test]
    fn loads_a_valid_bot() {
        let dir = bot_dir(OK, "fn process(item) { log(item[\"NIK\"]); }\n");
        let bot = load(dir.path(), "izin").unwrap();
        assert_eq!(bot.officers, vec!["loket@example.go.id".to_string()]);
        assert_eq!(bot.input.required, vec!["NIK".to_string()]);
        assert_eq!(bot.input_path(None), dir.path().join("izin/in.xlsx"));
        assert!(bot.vars.contains_key("portal_url"));
    }

    #[test]
    fn reports_manifest_and_script_problems_together() {
        let manifest = OK
            .replace("[notify]", "[notify]\nofficer = []")
            .replace("name = \"izin\"", "name = \"izn\"");
        let dir = bot_dir(&manifest, "fn process(item) {\n  let x = ;\n}\n");
        let problems = load(dir.path(), "izin").unwrap_err();
        let all = problems.to_string();
        assert!(
            all.contains("bot.toml:6:1: notify: unknown field `officer`")
                || all.contains("unknown field `officer`"),
            "{all}"
        );
        assert!(all.contains("main.rhai:2:"), "{all}");
    }

    #[test]
    fn missing_process_and_bad_address() {
        let manifest = OK.replace("loket@example.go.id", "loket at example");
        let dir = bot_dir(&manifest, "fn init() {}\n");
        let all = load(dir.path(), "izin").unwrap_err().to_string();
        assert!(all.contains("must define `fn process(item)`"), "{all}");
        assert!(
            all.contains("notify.officers: \"loket at example\" is not a mail address"),
            "{all}"
        );
        assert!(all.contains("bot.toml:6:"), "{all}");
    }

    #[test]
    fn unknown_bot_lists_known_ones() {
        let dir = bot_dir(OK, "fn process(item) {}\n");
        let all = load(dir.path(), "izn").unwrap_err().to_string();
        assert!(all.contains("no bot named \"izn\""), "{all}");
        assert!(all.contains("the bots are: izin"), "{all}");
    }
}
