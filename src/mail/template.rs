//! Message templates (minijinja, Jinja2 syntax): a subject, a plain-text body and
//! an HTML body rendered from one context.
//!
//! The HTML body escapes every value (`&`, `<`, `>`, quotes), the others do not.
//! Block tags take their own line (`trim_blocks`, `lstrip_blocks`), so text
//! templates read like the text they produce. A missing value is an error, not an
//! empty string. Rendering is pure and synchronous.

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;

/// The three templates of one kind of message.
#[derive(Debug, Clone, Copy)]
pub struct Templates<'a> {
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line.
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A template that does not compile or render: which one and why.
#[derive(Debug, thiserror::Error)]
#[error("mail template {name}: {reason}")]
pub struct TemplateError {
    pub name: String,
    pub reason: String,
}

/// Renders the three templates with `context`.
pub fn render(templates: &Templates, context: &impl Serialize) -> Result<Rendered, TemplateError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .map_err(|e| TemplateError {
            name: "syntax".into(),
            reason: e.to_string(),
        })?;
    env.set_syntax(syntax);
    let value = Value::from(minijinja::value::Serde(context));
    let one = |name: &str, source: &str| -> Result<String, TemplateError> {
        let fail = |e: minijinja::Error| TemplateError {
            name: name.to_string(),
            reason: e.to_string(),
        };
        env.template_from_named_str(name, source)
            .map_err(fail)?
            .render(&value)
            .map_err(fail)
    };
    let subject = one("subject.txt", templates.subject)?;
    Ok(Rendered {
        subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
        text: one("body.txt", templates.text)?,
        html: one("body.html", templates.html)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Ctx {
        bot: &'static str,
        rows: Vec<&'static str>,
    }

    const T: Templates = Templates {
        subject: "[juru] {{ bot }}",
        text: "Rows:\n{% for r in rows %}\n- {{ r }}\n{% endfor %}\n",
        html: "<ul>{% for r in rows %}<li>{{ r }}</li>{% endfor %}</ul>",
    };

    #[test]
    fn renders_text_and_escaped_html() {
        let ctx = Ctx {
            bot: "izin",
            rows: vec!["NIK <kosong> & salah", "ok"],
        };
        let t = Templates {
            subject: "[juru] {{ bot }}:\n  {{ rows[1] }}\n",
            ..T
        };
        let r = render(&t, &ctx).unwrap();
        assert_eq!(r.subject, "[juru] izin: ok");
        assert_eq!(r.text, "Rows:\n- NIK <kosong> & salah\n- ok\n");
        assert_eq!(
            r.html,
            "<ul><li>NIK &lt;kosong&gt; &amp; salah</li><li>ok</li></ul>"
        );
    }

    #[test]
    fn a_missing_value_names_the_template() {
        let t = Templates {
            subject: "{{ bott }}",
            ..T
        };
        let err = render(
            &t,
            &Ctx {
                bot: "x",
                rows: vec![],
            },
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("mail template subject.txt:"),
            "{err}"
        );
    }
}
