//! Reading one hand-edited TOML file into a typed struct, with errors that point at
//! the file, line, column and key path.
//!
//! Every problem of the file is found in one go: the file is parsed once into a
//! document that knows where each key is, then read into the struct; when a key
//! is unknown or has the wrong type, the problem is recorded, that key is left
//! out of the document and the document is read again, until it reads. So one
//! misspelt key does not hide the next, and what remains is still read into a
//! value that validation can look at (its problems about keys already reported
//! are left out: [`Parsed::with`]).

use std::ops::Range;
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::{Problem, Problems};

/// At most this many problems are reported for one file.
const MAX_PROBLEMS: usize = 100;

/// What reading a file found: the value of everything that could be read (keys
/// with problems left out), and a problem for each key left out.
#[derive(Debug)]
pub struct Parsed<T> {
    /// `None` when the file could not be read into the struct at all (a syntax
    /// error, or a required key with a problem).
    pub value: Option<T>,
    pub problems: Problems,
    /// Key paths left out of the value, as problems name them (`browser.headless`).
    dropped: Vec<String>,
}

impl<T> Parsed<T> {
    /// The problems of reading, then those of `validation` (of the value) except
    /// the ones about keys left out, whose problem is already there.
    pub fn with(self, validation: Problems) -> Problems {
        let mut problems = self.problems;
        let dropped = self.dropped;
        problems.0.extend(validation.0.into_iter().filter(|p| {
            !dropped.iter().any(|d| {
                p.message
                    .strip_prefix(d.as_str())
                    .is_some_and(|rest| rest.starts_with([':', '.', '[']))
            })
        }));
        problems
    }

    /// Validates the value (when there is one) and gives the validated value
    /// when neither reading nor validating found a problem, else every problem
    /// of both (see [`Parsed::with`]).
    pub fn then<U>(
        mut self,
        validate: impl FnOnce(T) -> Result<U, Problems>,
    ) -> Result<U, Problems> {
        match self.value.take() {
            None => Err(self.problems),
            Some(value) => match validate(value) {
                Ok(u) if self.problems.is_empty() => Ok(u),
                Ok(_) => Err(self.problems),
                Err(p) => Err(self.with(p)),
            },
        }
    }

    /// The value when there was no problem, else every problem.
    pub fn into_result(self) -> Result<T, Problems> {
        match self.value {
            Some(v) if self.problems.is_empty() => Ok(v),
            _ => Err(self.problems),
        }
    }
}

/// Parses `text` (the contents of `shown`, the path as the user knows it): the
/// value, or every unknown key, wrong type and missing key of the file.
pub fn parse<T: DeserializeOwned>(shown: &str, text: &str) -> Result<T, Problems> {
    parse_all::<T>(shown, text).into_result()
}

/// Parses `text` as far as it can be read: see [`Parsed`].
pub fn parse_all<T: DeserializeOwned>(shown: &str, text: &str) -> Parsed<T> {
    parse_all_as::<T, T>(shown, text)
}

/// Like [`parse_all`], but problems are found reading the file as `Check` and
/// the value read as `T` from what is left. (`Check` and `T` describe the same
/// file; a map keyed by `Spanned<String>` knows where its keys are but names
/// them badly in messages, so it is checked with plain `String` keys.)
pub fn parse_all_as<Check, T>(shown: &str, text: &str) -> Parsed<T>
where
    Check: DeserializeOwned,
    T: DeserializeOwned,
{
    let mut doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            return Parsed {
                value: None,
                problems: located(shown, text, e.span(), "", e.message()).into(),
                dropped: Vec::new(),
            }
        }
    };
    let mut found: Vec<(usize, Problem)> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    let mut readable = false;
    while found.len() < MAX_PROBLEMS {
        let de = toml::de::Deserializer::from(doc.clone());
        let err = match serde_path_to_error::deserialize::<_, Check>(de) {
            Ok(_) => {
                readable = true;
                break;
            }
            Err(e) => e,
        };
        let path: Vec<Step> = err.path().iter().filter_map(Step::of).collect();
        let inner = err.into_inner();
        let key = key_path(&path);
        // A required key missing because a problem left it out: that problem is
        // reported; leave out the table that needs it.
        let ours = missing_field(inner.message()).is_some_and(|field| {
            let full = if key.is_empty() {
                field.to_string()
            } else {
                format!("{key}.{field}")
            };
            dropped.contains(&full)
        });
        if !ours {
            let at = inner.span().map_or(usize::MAX, |s| s.start);
            found.push((
                at,
                located(shown, text, inner.span(), &key, inner.message()),
            ));
        }
        match remove(doc.get_mut(), &path) {
            Some(n) => dropped.push(key_path(&path[..n])),
            None => break,
        }
    }
    found.sort_by_key(|(at, _)| *at);
    let problems = Problems(found.into_iter().map(|(_, p)| p).collect());
    let value = if readable {
        match serde_path_to_error::deserialize::<_, T>(toml::de::Deserializer::from(doc)) {
            Ok(v) => Some(v),
            Err(e) => {
                // `Check` and `T` disagree: say what `T` found.
                let key = key_path(&e.path().iter().filter_map(Step::of).collect::<Vec<_>>());
                let inner = e.into_inner();
                let mut problems = problems;
                problems
                    .0
                    .push(located(shown, text, inner.span(), &key, inner.message()));
                return Parsed {
                    value: None,
                    problems,
                    dropped,
                };
            }
        }
    } else {
        None
    };
    Parsed {
        value,
        problems,
        dropped,
    }
}

/// One step of a key path.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

impl Step {
    /// `None` for the steps `toml::Spanned` adds under a private name.
    fn of(segment: &serde_path_to_error::Segment) -> Option<Step> {
        use serde_path_to_error::Segment;
        match segment {
            Segment::Map { key } if key.starts_with("$__serde_spanned_private") => None,
            Segment::Map { key } | Segment::Enum { variant: key } => Some(Step::Key(key.clone())),
            Segment::Seq { index } => Some(Step::Index(*index)),
            Segment::Unknown => Some(Step::Key("?".to_string())),
        }
    }
}

/// `browser.headless`, `notify.officers[1]`.
fn key_path(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// `workbook` of serde's "missing field `workbook`".
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}

/// Leaves the key at `path` out of `table`; where the path ends in an array
/// element, or leads nowhere further, the deepest key on it that can be left out
/// is. Gives how many steps of `path` name what was left out; `None` when
/// nothing could be (the problem is with the whole file).
fn remove(table: &mut DeTable<'_>, path: &[Step]) -> Option<usize> {
    let (Step::Key(key), rest) = path.split_first()? else {
        return None;
    };
    if !rest.is_empty() {
        let deeper = match table.get_mut(key.as_str()).map(Spanned::get_mut) {
            Some(DeValue::Table(inner)) => remove(inner, rest),
            Some(DeValue::Array(items)) => match rest.split_first() {
                Some((Step::Index(i), after)) if !after.is_empty() => {
                    match items.get_mut(*i).map(Spanned::get_mut) {
                        Some(DeValue::Table(inner)) => remove(inner, after).map(|n| n + 1),
                        _ => None,
                    }
                }
                _ => None,
            },
            _ => None,
        };
        if let Some(n) = deeper {
            return Some(n + 1);
        }
    }
    table.remove(key.as_str()).map(|_| 1)
}

/// Reads and parses a file; `Ok(None)` when the file does not exist.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, Problems> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&shown, &text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Problem::new(shown, format!("cannot read the file: {e}")).into()),
    }
}

fn located(
    shown: &str,
    text: &str,
    span: Option<Range<usize>>,
    key: &str,
    message: &str,
) -> Problem {
    let message = message.trim().trim_end_matches('.').replace('\n', " ");
    let message = if key.is_empty() {
        message
    } else {
        format!("{key}: {message}")
    };
    match span {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            Problem::new(format!("{shown}:{line}:{col}"), message)
        }
        None => Problem::new(shown, message),
    }
}

/// `file:line:col` of the value at `path` (table names, then keys) in the TOML
/// `text`; of the deepest part of the path that is there when the rest is not;
/// the file alone when not even the first key is (or the text does not parse).
pub fn key_location(shown: &str, text: &str, path: &[&str]) -> String {
    let Ok(doc) = DeTable::parse(text) else {
        return shown.to_string();
    };
    let mut table: &DeTable<'_> = doc.get_ref();
    let mut at: Option<usize> = None;
    for key in path {
        let Some((k, v)) = table.get_key_value(*key) else {
            break;
        };
        at = Some(match v.get_ref() {
            // A table's own position is that of its header: its key.
            DeValue::Table(_) => k.span().start,
            _ => v.span().start,
        });
        match v.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => break,
        }
    }
    match at {
        Some(offset) => {
            let (line, col) = line_col(text, offset);
            format!("{shown}:{line}:{col}")
        }
        None => shown.to_string(),
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Demo {
        name: String,
        #[serde(default)]
        inner: Inner,
    }

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        flag: Option<bool>,
        count: Option<i64>,
        #[serde(default)]
        list: Vec<String>,
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse::<Demo>("x.toml", "name = \"a\"\n[inner]\nflga = true\n").unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err.0[0].location, "x.toml:3:1");
        assert!(err.0[0].message.contains("unknown field `flga`"), "{err}");
    }

    #[test]
    fn wrong_type_names_key_path() {
        let err = parse::<Demo>("x.toml", "name = \"a\"\n[inner]\nflag = \"yes\"\n").unwrap_err();
        assert_eq!(err.0[0].location, "x.toml:3:8");
        assert!(
            err.0[0].message.starts_with("inner.flag: invalid type"),
            "{err}"
        );
    }

    #[test]
    fn every_unknown_key_and_wrong_type_at_once_in_file_order() {
        let text = "nama = \"a\"\nname = \"b\"\n[inner]\nflga = true\nflag = \"ya\"\ncount = 1.5\nlist = [\"x\", 2]\nextra = 1\n";
        let parsed = parse_all::<Demo>("x.toml", text);
        let all: Vec<String> = parsed.problems.0.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            all,
            [
                "x.toml:1:1: nama: unknown field `nama`, expected `name` or `inner`",
                "x.toml:4:1: inner.flga: unknown field `flga`, expected one of `flag`, `count`, `list`",
                "x.toml:5:8: inner.flag: invalid type: string \"ya\", expected a boolean",
                "x.toml:6:9: inner.count: invalid type: floating point `1.5`, expected i64",
                "x.toml:7:14: inner.list[1]: invalid type: integer `2`, expected a string",
                "x.toml:8:1: inner.extra: unknown field `extra`, expected one of `flag`, `count`, `list`",
            ]
        );
        // What is left still reads, for validation to look at.
        let value = parsed.value.expect("the rest reads");
        assert_eq!(value.name, "b");
        assert_eq!(value.inner.flag, None);
        assert!(
            value.inner.list.is_empty(),
            "a list with a bad item is left out"
        );
    }

    #[test]
    fn a_required_key_with_a_problem_stops_only_what_needs_it() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Top {
            input: Input,
            #[serde(default)]
            other: Inner,
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Input {
            workbook: String,
        }
        let text = "[input]\nworkbook = 5\n[other]\nflga = 1\n";
        let parsed = parse_all::<Top>("x.toml", text);
        let all = parsed.problems.to_string();
        assert_eq!(parsed.problems.len(), 2, "{all}");
        assert!(
            all.contains("x.toml:2:12: input.workbook: invalid type"),
            "{all}"
        );
        assert!(
            all.contains("x.toml:4:1: other.flga: unknown field"),
            "{all}"
        );
        assert!(!all.contains("missing field"), "{all}");
        assert!(parsed.value.is_none());

        // A key the file really lacks is a problem of its own.
        let err = parse::<Top>("x.toml", "[input]\n").unwrap_err();
        assert_eq!(err.0[0].message, "input: missing field `workbook`", "{err}");
    }

    #[test]
    fn validation_problems_about_keys_left_out_are_not_repeated() {
        let parsed = parse_all::<Demo>("x.toml", "name = \"a\"\n[inner]\nflag = 3\n");
        let validation = Problems(vec![
            Problem::new("x.toml", "inner.flag: missing"),
            Problem::new("x.toml", "inner.flagship: something else"),
            Problem::new("x.toml", "name: too short"),
        ]);
        let all: Vec<String> = parsed
            .with(validation)
            .0
            .iter()
            .map(|p| p.message.clone())
            .collect();
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(all[0].starts_with("inner.flag: invalid type"));
        assert_eq!(all[1], "inner.flagship: something else");
        assert_eq!(all[2], "name: too short");
    }

    #[test]
    fn syntax_error_has_line() {
        let err = parse::<Demo>("x.toml", "name = \n").unwrap_err();
        assert!(err.0[0].location.starts_with("x.toml:1:"), "{err}");
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct WithSpan {
        timeout: toml::Spanned<String>,
    }

    #[test]
    fn spanned_fields_keep_a_clean_key_path() {
        let err = parse::<WithSpan>("x.toml", "timeout = 5\n").unwrap_err();
        assert!(
            err.0[0].message.starts_with("timeout: invalid type"),
            "{err}"
        );
        assert!(!err.to_string().contains("serde_spanned"), "{err}");
    }

    #[test]
    fn key_locations() {
        let text = "# users\n[siti]\nrole = \"boss\"\n\n[budi]\nrole = \"officer\"\n";
        assert_eq!(
            key_location("u.toml", text, &["siti", "role"]),
            "u.toml:3:8"
        );
        assert_eq!(key_location("u.toml", text, &["budi"]), "u.toml:5:2");
        assert_eq!(
            key_location("u.toml", text, &["budi", "language"]),
            "u.toml:5:2"
        );
        assert_eq!(key_location("u.toml", text, &["ani"]), "u.toml");
        assert_eq!(key_location("u.toml", "[x", &["x"]), "u.toml");
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
    }
}
