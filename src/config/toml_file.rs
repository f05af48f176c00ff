//! Reading one hand-edited TOML file into a typed struct, with errors that point at
//! the file, line, column and key path.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::Problem;

/// Parses `text` (the contents of `shown`, the path as the user knows it).
pub fn parse<T: DeserializeOwned>(shown: &str, text: &str) -> Result<T, Problem> {
    let de = match toml::Deserializer::parse(text) {
        Ok(de) => de,
        Err(e) => return Err(located(shown, text, e.span(), "", e.message())),
    };
    serde_path_to_error::deserialize(de).map_err(|e| {
        // `toml::Spanned` fields show up in the path under a private name: drop it.
        let path = e
            .path()
            .to_string()
            .replace(".$__serde_spanned_private_value", "")
            .replace("$__serde_spanned_private_value", "");
        let inner = e.into_inner();
        let path = if path == "." { String::new() } else { path };
        located(shown, text, inner.span(), &path, inner.message())
    })
}

/// Reads and parses a file; `Ok(None)` when the file does not exist.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, Problem> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&shown, &text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Problem::new(shown, format!("cannot read the file: {e}"))),
    }
}

fn located(
    shown: &str,
    text: &str,
    span: Option<std::ops::Range<usize>>,
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
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse::<Demo>("x.toml", "name = \"a\"\n[inner]\nflga = true\n").unwrap_err();
        assert_eq!(err.location, "x.toml:3:1");
        assert!(err.message.contains("unknown field `flga`"), "{err}");
    }

    #[test]
    fn wrong_type_names_key_path() {
        let err = parse::<Demo>("x.toml", "name = \"a\"\n[inner]\nflag = \"yes\"\n").unwrap_err();
        assert_eq!(err.location, "x.toml:3:8");
        assert!(err.message.starts_with("inner.flag: invalid type"), "{err}");
    }

    #[test]
    fn syntax_error_has_line() {
        let err = parse::<Demo>("x.toml", "name = \n").unwrap_err();
        assert!(err.location.starts_with("x.toml:1:"), "{err}");
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct WithSpan {
        timeout: toml::Spanned<String>,
    }

    #[test]
    fn spanned_fields_keep_a_clean_key_path() {
        let err = parse::<WithSpan>("x.toml", "timeout = 5\n").unwrap_err();
        assert!(err.message.starts_with("timeout: invalid type"), "{err}");
        assert!(!err.message.contains("serde_spanned"), "{err}");
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
    }
}
