//! `send_mail`: a mail of the bot's own, through the run's outbox.
//!
//! The message (with its attachments, read at once from the run's folder) is
//! written to the outbox when the script calls `send_mail`, and delivered with the
//! run's own mails when the run ends (or by `juru mail flush`), so a slow or absent
//! mail server never holds up an item.

use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, Map};

use super::{Failure, Res};
use crate::mail::{self, Attachment, Mail, Outbox};
use crate::script::Shared;

/// The most a script's mail may carry in attachments.
const MAX_ATTACHMENTS: u64 = 20 * 1024 * 1024;

pub(super) fn register(engine: &mut Engine, shared: &Rc<Shared>) {
    let s = shared.clone();
    engine.register_fn(
        "send_mail",
        move |to: Dynamic, subject: &str, body: &str| -> Res<String> {
            send(&s, to, subject, body, Array::new())
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "send_mail",
        move |to: Dynamic, subject: &str, body: &str, attachments: Array| -> Res<String> {
            send(&s, to, subject, body, attachments)
        },
    );
}

fn fail(message: impl Into<String>) -> Box<rhai::EvalAltResult> {
    Failure::system("mail", message).into()
}

fn send(
    shared: &Shared,
    to: Dynamic,
    subject: &str,
    body: &str,
    attachments: Array,
) -> Res<String> {
    let Some(context) = shared.mail.borrow().clone() else {
        return Err(fail(
            "send_mail can be used only while a run is going on (in process, init or finish)",
        ));
    };
    let to = recipients(to)?;
    if subject.trim().is_empty() {
        return Err(fail("send_mail: the subject is empty"));
    }
    let mut files = Vec::new();
    let mut total = 0u64;
    for a in attachments {
        let (path, name) = attachment_spec(&a)?;
        let full = inside_run(&shared.work_dir, &path).map_err(fail)?;
        let bytes = std::fs::read(&full)
            .map_err(|e| fail(format!("send_mail: cannot read attachment \"{path}\": {e}")))?;
        total += bytes.len() as u64;
        if total > MAX_ATTACHMENTS {
            return Err(fail(format!(
                "send_mail: the attachments are larger than {} MB together; mail servers refuse such messages",
                MAX_ATTACHMENTS / 1024 / 1024
            )));
        }
        let name = name.unwrap_or_else(|| {
            full.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "attachment".into())
        });
        files.push(Attachment::new(name, bytes));
    }
    let message = Mail {
        to,
        cc: Vec::new(),
        subject: subject.trim().to_string(),
        text: body.to_string(),
        html: html_body(body),
        attachments: files,
    };
    let outbox = Outbox::new(&context.outbox);
    let entry = outbox
        .enqueue(
            &context.from,
            &message,
            &format!("{}.mail", context.run_id),
            "script",
            Some(&context.run_id),
        )
        .map_err(|e| fail(format!("send_mail: {e}")))?;
    shared.log(&format!(
        "mail \"{}\" to {} queued as {}",
        message.subject,
        message.to.join(", "),
        entry.id
    ));
    Ok(entry.id)
}

/// A string, or an array of strings, each a valid address.
fn recipients(to: Dynamic) -> Res<Vec<String>> {
    let list: Vec<Dynamic> = if to.is_array() {
        to.into_array().unwrap_or_default()
    } else {
        vec![to]
    };
    let mut out = Vec::new();
    for value in list {
        let Some(text) = value.clone().try_cast::<rhai::ImmutableString>() else {
            return Err(fail(format!(
                "send_mail: a recipient must be a text such as \"loket@dinas.go.id\", got {value}"
            )));
        };
        mail::parse_mailbox(&text).map_err(|e| fail(format!("send_mail: {e}")))?;
        out.push(text.to_string());
    }
    if out.is_empty() {
        return Err(fail("send_mail: no recipient"));
    }
    Ok(out)
}

/// `"path"` or `#{ path: "...", name: "..." }`.
fn attachment_spec(value: &Dynamic) -> Res<(String, Option<String>)> {
    if let Some(path) = value.clone().try_cast::<rhai::ImmutableString>() {
        return Ok((path.to_string(), None));
    }
    let Some(map) = value.clone().try_cast::<Map>() else {
        return Err(fail(format!(
            "send_mail: an attachment is a path in the run's folder or #{{ path: ..., name: ... }}, got {value}"
        )));
    };
    if let Some(key) = map.keys().find(|k| !matches!(k.as_str(), "path" | "name")) {
        return Err(fail(format!(
            "send_mail: unknown attachment key `{key}`; the keys are: path, name"
        )));
    }
    let text = |key: &str| map.get(key).map(|v| v.to_string());
    let Some(path) = text("path") else {
        return Err(fail("send_mail: an attachment map needs `path`"));
    };
    let name = text("name").filter(|n| !n.trim().is_empty());
    if let Some(n) = &name {
        if n.contains(['/', '\\']) {
            return Err(fail(format!(
                "send_mail: attachment name \"{n}\" must be a file name without folders"
            )));
        }
    }
    Ok((path, name))
}

/// `work_dir/path` when `path` is relative, stays inside `work_dir` (links
/// resolved) and is a file.
fn inside_run(work_dir: &Path, path: &str) -> Result<PathBuf, String> {
    let relative = Path::new(path);
    if path.trim().is_empty()
        || relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "send_mail: attachment \"{path}\" must be a path inside the run's folder, such as \"screenshots/bukti-001.png\" (no \"..\", no leading \"/\")"
        ));
    }
    let base = work_dir
        .canonicalize()
        .map_err(|e| format!("send_mail: the run's folder {}: {e}", work_dir.display()))?;
    let full = base
        .join(relative)
        .canonicalize()
        .map_err(|e| format!("send_mail: attachment \"{path}\" is not in the run's folder: {e}"))?;
    if !full.starts_with(&base) {
        return Err(format!(
            "send_mail: attachment \"{path}\" leads outside the run's folder (through a link); only files of the run may be attached"
        ));
    }
    if !full.is_file() {
        return Err(format!("send_mail: attachment \"{path}\" is not a file"));
    }
    Ok(full)
}

/// The plain body as HTML: escaped, line breaks kept.
fn html_body(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    format!(
        "<html><body style=\"font-family:Arial,sans-serif;font-size:14px\"><div style=\"white-space:pre-wrap\">{escaped}</div></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_must_stay_in_the_run_folder() {
        let root = tempfile::tempdir().unwrap();
        let run = root.path().join("run");
        std::fs::create_dir_all(run.join("screenshots")).unwrap();
        std::fs::write(run.join("screenshots/bukti-001.png"), b"png").unwrap();
        std::fs::write(root.path().join("rahasia.txt"), b"x").unwrap();
        std::os::unix::fs::symlink(root.path().join("rahasia.txt"), run.join("link.txt")).unwrap();

        let ok = inside_run(&run, "screenshots/bukti-001.png").unwrap();
        assert!(ok.ends_with("screenshots/bukti-001.png"));
        assert!(inside_run(&run, "./screenshots/bukti-001.png").is_ok());
        for (path, expected) in [
            ("../rahasia.txt", "no \"..\""),
            ("/etc/passwd", "no leading \"/\""),
            ("", "must be a path inside"),
            ("link.txt", "leads outside the run's folder"),
            ("tidak-ada.xlsx", "is not in the run's folder"),
            ("screenshots", "is not a file"),
        ] {
            let err = inside_run(&run, path).unwrap_err();
            assert!(err.contains(expected), "{path}: {err}");
        }
    }

    /// The message of a `Failure` thrown by a host function.
    fn message(e: &rhai::EvalAltResult) -> String {
        match e {
            rhai::EvalAltResult::ErrorRuntime(v, _) => v
                .clone()
                .try_cast::<Failure>()
                .map(|f| f.to_string())
                .unwrap_or_default(),
            other => other.to_string(),
        }
    }

    #[test]
    fn recipients_and_attachment_specs() {
        let one = recipients(Dynamic::from("loket@dinas.go.id")).unwrap();
        assert_eq!(one, vec!["loket@dinas.go.id"]);
        let two: Array = vec![
            Dynamic::from("Loket <loket@dinas.go.id>"),
            Dynamic::from("kabid@dinas.go.id"),
        ];
        assert_eq!(recipients(Dynamic::from(two)).unwrap().len(), 2);
        let err = message(&recipients(Dynamic::from("loket at dinas")).unwrap_err());
        assert!(
            err.contains("\"loket at dinas\" is not a mail address"),
            "{err}"
        );
        assert!(recipients(Dynamic::from(Array::new())).is_err());

        assert_eq!(
            attachment_spec(&Dynamic::from("output.xlsx")).unwrap(),
            ("output.xlsx".to_string(), None)
        );
        let mut map = Map::new();
        map.insert("path".into(), Dynamic::from("a.xlsx"));
        map.insert("name".into(), Dynamic::from("Laporan – Dinas.xlsx"));
        assert_eq!(
            attachment_spec(&Dynamic::from(map.clone())).unwrap(),
            (
                "a.xlsx".to_string(),
                Some("Laporan – Dinas.xlsx".to_string())
            )
        );
        map.insert("nama".into(), Dynamic::from("x"));
        let err = message(&attachment_spec(&Dynamic::from(map)).unwrap_err());
        assert!(err.contains("unknown attachment key `nama`"), "{err}");
    }

    #[test]
    fn html_body_escapes() {
        assert!(
            html_body("a < b & \"c\"\nbaris 2").contains("a &lt; b &amp; &quot;c&quot;\nbaris 2")
        );
    }
}
