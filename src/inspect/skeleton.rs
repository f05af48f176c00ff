//! The Rhai draft `juru inspect` prints: `process(item)` opening the page and filling
//! its main form (the one with the most fields a person fills), in its frame, with
//! the bot reference's verbs; a form with a password field becomes `login()`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Button, Field, Scope};

/// A string literal for Rhai.
pub(super) fn lit(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The address to open: `${vars.NAME}` for the start a bot's variable holds.
pub(super) fn open_expr(url: &str, vars: &BTreeMap<String, String>) -> String {
    for (name, value) in vars {
        let value = value.trim_end_matches('/');
        let simple = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if simple && value.len() > 8 && url.starts_with(value) {
            let rest = &url[value.len()..];
            if !rest.contains(['`', '$', '\\']) {
                return format!("`${{vars.{name}}}{rest}`");
            }
        }
    }
    lit(url)
}

/// Fields a person fills in a form (a read-only box only when it is a calendar).
fn fillable(f: &Field) -> bool {
    f.kind != "hidden" && (f.visible || f.date_target.is_some()) && (!f.readonly || f.date)
}

/// The column a field's value comes from.
fn column(f: &Field) -> String {
    let base = [&f.label, &f.name, &f.id]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| "Kolom".into());
    base.trim().to_string()
}

fn statement(f: &Field) -> String {
    let col = lit(&column(f));
    let sel = lit(&f.selector);
    let mut note = String::new();
    let line = match f.kind.as_str() {
        "password" => format!("browser.fill({sel}, secret(\"password\"));"),
        "file" => format!("browser.upload({sel}, item[{col}]);"),
        _ if f.date => {
            let target = lit(f.date_target.as_deref().unwrap_or(&f.selector));
            note = "a date: dd/mm/yyyy or yyyy-mm-dd".into();
            format!("browser.set_date({target}, item[{col}]);")
        }
        "checkbox" => {
            note = "a checkbox: ya/tidak, true/false".into();
            format!("browser.fill({sel}, item[{col}]);")
        }
        "radio" | "select" => {
            let opts: Vec<String> = f
                .options
                .iter()
                .map(|o| {
                    if f.kind == "radio" {
                        o.value.clone()
                    } else {
                        o.label.clone()
                    }
                })
                .filter(|o| !o.is_empty() && !o.starts_with("--"))
                .take(8)
                .collect();
            note = format!(
                "{}: {}",
                if f.kind == "radio" {
                    "one of"
                } else {
                    "an option's text"
                },
                opts.join(", ")
            );
            format!("browser.fill({sel}, item[{col}]);")
        }
        _ => format!("browser.fill({sel}, item[{col}]);"),
    };
    let mut notes = Vec::new();
    if !note.is_empty() {
        notes.push(note);
    }
    if f.disabled {
        notes.push("disabled on the page: uncomment if the page enables it".into());
    }
    if f.positional {
        notes.push("selector by position: check it".into());
    }
    if f.disabled {
        // A field that is disabled on the page usually stays so (the system fills it).
        format!("// {line}  // {}", notes.join("; ").replace('\n', " "))
    } else if notes.is_empty() {
        line
    } else {
        format!("{line}  // {}", notes.join("; ").replace('\n', " "))
    }
}

fn submit_button<'a>(buttons: &[&'a Button]) -> Option<&'a Button> {
    let usable: Vec<&&Button> = buttons.iter().filter(|b| b.kind != "reset").collect();
    usable
        .iter()
        .find(|b| b.confirm || b.kind == "submit" || b.kind == "image")
        .or_else(|| usable.first())
        .map(|b| **b)
}

/// The draft for the page `url` studied as `scopes`; `vars` are the bot's `[vars]`
/// (strings), used for the address when one holds its start.
pub fn skeleton(url: &str, scopes: &[Scope], vars: &BTreeMap<String, String>) -> String {
    // The main form: the most fillable fields (the first such form on ties).
    let mut best: Option<(&Scope, i64, usize)> = None;
    for scope in scopes {
        let Some(page) = &scope.page else { continue };
        let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
        for f in page.fields.iter().filter(|f| fillable(f)) {
            *counts.entry(f.form).or_default() += 1;
        }
        for (form, n) in counts {
            if best.is_none_or(|(_, _, m)| n > m) {
                best = Some((scope, form, n));
            }
        }
    }
    let open = open_expr(url, vars);
    let mut out = String::new();
    let _ = writeln!(out, "// Drafted by `juru inspect {url}`.");
    let Some((scope, form, _)) = best else {
        let _ = writeln!(out, "fn process(item) {{");
        let _ = writeln!(out, "    browser.open({open});");
        let _ = writeln!(
            out,
            "    // no form to fill on this page: see the links and tables above"
        );
        let _ = writeln!(out, "}}");
        return out;
    };
    let Some(page) = &scope.page else {
        return out;
    };
    let fields: Vec<&Field> = page
        .fields
        .iter()
        .filter(|f| f.form == form && fillable(f))
        .collect();
    let buttons: Vec<&Button> = page.buttons.iter().filter(|b| b.form == form).collect();
    let is_login = fields.iter().any(|f| f.kind == "password");
    let mut body = Vec::new();
    body.push(format!("browser.open({open});"));
    let mut inner = Vec::new();
    for f in &fields {
        let mut s = statement(f);
        if is_login && f.kind != "password" && !f.date && f.kind != "file" {
            s = format!("browser.fill({}, secret(\"user\"));", lit(&f.selector));
        }
        inner.push(s);
    }
    match submit_button(&buttons) {
        Some(b) if b.confirm => inner.push(format!(
            "browser.click({}, #{{ confirm: true }});  // \"{}\" asks confirm(): OK",
            lit(&b.selector),
            b.text.replace('\n', " ")
        )),
        Some(b) => inner.push(format!(
            "browser.click({});  // \"{}\"",
            lit(&b.selector),
            b.text.replace('\n', " ")
        )),
        None => {
            inner.push("// no button in this form: find how it is sent (a link? Enter?)".into())
        }
    }
    if !is_login {
        inner.push("// browser.wait_for(\"<what the result page shows>\");".into());
        inner.push("// item.output(\"Nomor\", browser.text(\"<selector of the number>\"));".into());
    }
    if scope.in_frame.is_empty() {
        body.extend(inner);
    } else {
        body.push(format!("browser.in_frame({}, || {{", lit(&scope.in_frame)));
        body.extend(inner.into_iter().map(|s| format!("    {s}")));
        body.push("});".into());
    }
    if is_login {
        let _ = writeln!(
            out,
            "// A login form: set the secrets with JURU_SECRET_USER and JURU_SECRET_PASSWORD."
        );
        let _ = writeln!(out, "fn login() {{");
        for s in &body {
            let _ = writeln!(out, "    {s}");
        }
        let _ = writeln!(out, "}}\n");
        let _ = writeln!(out, "fn process(item) {{");
        let _ = writeln!(
            out,
            "    // inspect the page after the login (juru inspect URL --login BOT)"
        );
        let _ = writeln!(out, "}}");
    } else {
        let _ = writeln!(out, "fn process(item) {{");
        for s in &body {
            let _ = writeln!(out, "    {s}");
        }
        let _ = writeln!(out, "}}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{Choice, Page};

    fn field(kind: &str, sel: &str, label: &str) -> Field {
        Field {
            tag: "input".into(),
            kind: kind.into(),
            label: label.into(),
            selector: sel.into(),
            visible: true,
            ..Field::default()
        }
    }

    #[test]
    fn a_framed_form_becomes_process_in_its_frame_and_compiles() {
        let mut jenis = field("select", "#jenis", "Jenis \"Izin\"");
        jenis.tag = "select".into();
        jenis.options = vec![
            Choice {
                value: "".into(),
                label: "-- Pilih --".into(),
            },
            Choice {
                value: "IUMK".into(),
                label: "Izin Usaha Mikro Kecil".into(),
            },
        ];
        let mut tampil = field("text", "#tanggal-tampil", "Tanggal Pengajuan");
        tampil.readonly = true;
        tampil.date = true;
        tampil.date_target = Some("#tanggal".into());
        let mut hidden = field("hidden", "#tanggal", "");
        hidden.visible = false;
        let page = Page {
            fields: vec![field("text", "#nik", "NIK Pemohon"), jenis, tampil, hidden],
            buttons: vec![Button {
                text: "Simpan".into(),
                kind: "button".into(),
                confirm: true,
                selector: "#simpan".into(),
                ..Button::default()
            }],
            ..Page::default()
        };
        let scopes = vec![
            Scope {
                in_frame: "".into(),
                path: vec![],
                page: Some(Page::default()),
                error: None,
            },
            Scope {
                in_frame: "main".into(),
                path: vec!["main".into()],
                page: Some(page),
                error: None,
            },
        ];
        let vars = BTreeMap::from([(
            "portal_url".to_string(),
            "http://127.0.0.1:8765".to_string(),
        )]);
        let s = skeleton("http://127.0.0.1:8765/utama?hal=baru", &scopes, &vars);
        assert!(
            s.contains("browser.open(`${vars.portal_url}/utama?hal=baru`);"),
            "{s}"
        );
        assert!(s.contains("browser.in_frame(\"main\", || {"), "{s}");
        assert!(
            s.contains("browser.fill(\"#nik\", item[\"NIK Pemohon\"]);"),
            "{s}"
        );
        assert!(
            s.contains("browser.fill(\"#jenis\", item[\"Jenis \\\"Izin\\\"\"]);"),
            "{s}"
        );
        assert!(
            s.contains("browser.set_date(\"#tanggal\", item[\"Tanggal Pengajuan\"]);"),
            "{s}"
        );
        assert!(
            s.contains("browser.click(\"#simpan\", #{ confirm: true });"),
            "{s}"
        );
        assert!(!s.contains("#tanggal-tampil"), "{s}");
        crate::script::compile_text(&s, "draft.rhai").expect("the draft compiles");
    }

    #[test]
    fn a_login_form_becomes_login_with_secrets() {
        let page = Page {
            fields: vec![
                field("text", "#user", "Nama Pengguna"),
                field("password", "#pass", "Kata Sandi"),
            ],
            buttons: vec![Button {
                text: "Masuk".into(),
                kind: "submit".into(),
                selector: "input[value=Masuk]".into(),
                ..Button::default()
            }],
            ..Page::default()
        };
        let scopes = vec![Scope {
            in_frame: "".into(),
            path: vec![],
            page: Some(page),
            error: None,
        }];
        let s = skeleton("http://h.example/login", &scopes, &BTreeMap::new());
        assert!(s.contains("fn login() {"), "{s}");
        assert!(
            s.contains("browser.fill(\"#pass\", secret(\"password\"));"),
            "{s}"
        );
        assert!(s.contains("browser.click(\"input[value=Masuk]\");"), "{s}");
        crate::script::compile_text(&s, "draft.rhai").expect("the draft compiles");
    }
}
