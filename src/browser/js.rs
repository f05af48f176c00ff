//! Scripts juru runs inside the page. Each one does a whole step in one WebDriver
//! round trip: find, check readiness, act, fire the events the page listens to.

/// What a person sees, by WebDriver's rules (the "Is Displayed" and "Get Element
/// Text" of chromedriver): `juruShown(el, noOpacity)` and `juruText(el)`. Function
/// declarations, so any page script can start with them.
///
/// Shown: not `<input type=hidden>` or `<noscript>`, no `visibility: hidden`, no
/// `display: none` on it or any ancestor, not fully transparent (unless
/// `noOpacity`), and of positive size (or holding text or a child of positive size,
/// unless it clips its overflow); an `<option>` is shown when its `<select>` is.
///
/// Text: the text of the shown parts only; runs of spaces and, except in `pre`
/// styles, line breaks collapse to one space; each block element is a line of its
/// own (one `\n` between blocks, no empty lines for margins); `<br>` breaks the line;
/// table cells are separated by one space; lines are trimmed; a no-break space
/// (`&nbsp;`) reads as a plain space; zero-width characters are dropped.
pub const VISIBLE: &str = r#"
function juruShown(el, noOpacity) {
  const tag = el.tagName.toLowerCase();
  if (tag === "option" || tag === "optgroup") {
    const s = el.closest("select");
    return !!s && juruShown(s, true);
  }
  if (tag === "input" && String(el.type).toLowerCase() === "hidden") return false;
  if (tag === "noscript") return false;
  const own = getComputedStyle(el);
  if (own.visibility === "hidden" || own.visibility === "collapse") return false;
  let opacity = 1;
  for (let e = el; e; e = e.parentElement) {
    const s = e === el ? own : getComputedStyle(e);
    if (s.display === "none") return false;
    opacity *= Number(s.opacity);
  }
  if (!noOpacity && opacity === 0) return false;
  const sized = e => {
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) return true;
    if (getComputedStyle(e).overflow === "hidden") return false;
    return Array.from(e.childNodes).some(n => n.nodeType === 3 || (n.nodeType === 1 && sized(n)));
  };
  return sized(el);
}
function juruText(root) {
  const inline = ["inline", "inline-block", "inline-table", "none", "table-cell", "table-column", "table-column-group"];
  const lines = [];
  const last = () => lines.length ? lines[lines.length - 1] : "";
  const blank = s => /^[\s\xa0]*$/.test(s);
  const add = (text, ws, tt) => {
    let t = text.replace(/[\u200b\u200e\u200f]/g, "").replace(/\r\n?/g, "\n");
    if (ws === "normal" || ws === "nowrap") t = t.replace(/\n/g, " ");
    t = (ws === "pre" || ws === "pre-wrap") ? t.replace(/[ \f\t\v\u2028\u2029]/g, "\xa0") : t.replace(/[ \f\t\v\u2028\u2029]+/g, " ");
    if (tt === "uppercase") t = t.toUpperCase();
    else if (tt === "lowercase") t = t.toLowerCase();
    else if (tt === "capitalize") t = t.replace(/(^|\s)(\S)/g, (m, a, b) => a + b.toUpperCase());
    const cur = lines.length ? lines.pop() : "";
    if (cur.endsWith(" ") && t.startsWith(" ")) t = t.slice(1);
    lines.push(cur + t);
  };
  const walk = el => {
    const tag = el.tagName.toLowerCase();
    if (tag === "br") { lines.push(""); return; }
    const cs = getComputedStyle(el);
    const td = tag === "td";
    const block = !td && !inline.includes(cs.display);
    if (block && !blank(last())) lines.push("");
    const shown = juruShown(el);
    for (const n of el.childNodes) {
      if (n.nodeType === 3 && shown) add(n.nodeValue, cs.whiteSpace, cs.textTransform);
      else if (n.nodeType === 1) walk(n);
    }
    const line = last();
    if ((td || cs.display === "table-cell") && line && !line.endsWith(" ")) lines[lines.length - 1] += " ";
    if (block && cs.display !== "run-in" && !blank(line)) lines.push("");
  };
  walk(root);
  const trim = s => s.replace(/^[^\S\xa0]+|[^\S\xa0]+$/g, "");
  return trim(lines.map(trim).join("\n")).replace(/\xa0/g, " ");
}
function juruLabels(sel) {
  return Array.from(sel.selectedOptions).map(o => o.text.replace(/\xa0/g, " ").replace(/\s+/g, " ").trim());
}
"#;

/// Finds `arguments[0]` and, if it is ready, does `arguments[1]` with `arguments[2]`.
///
/// Returns `{state}`: `ready` (with the element and what was asked), `missing`,
/// `hidden`, `disabled`, `readonly`, `nooption` (with `options`), `invalid`
/// (a bad selector, with `message`). Operations:
/// - `probe`: the element, its tag, type and checked state;
/// - `set`: set the field to the value as a person would (see `SET` below);
/// - `text`: its visible text (a `<select>`: the labels of its chosen options);
/// - `peek`: the same without waiting for it to be shown (`""` when hidden);
/// - `value`, `attribute` (name in `arguments[2]`): read whether shown, enabled or not;
/// - `date`: set the value of a date field even when it is read-only or hidden;
/// - `visible`: ready once shown; `gone`: ready once missing or hidden (else `shown`);
/// - `select_index`: choose the option at index `arguments[2]` of a select (added to
///   the chosen ones of a multiple select); `deselect`: clear the option with label
///   or value `arguments[2]` (all when `null`) of a multiple select.
///
/// Needs [`VISIBLE`] before it.
pub const ELEMENT: &str = r#"
const [sel, op, val] = arguments;
let el;
try { el = document.querySelector(sel); } catch (e) { return {state: "invalid", message: String(e.message)}; }
if (op === "gone") return el && juruShown(el) ? {state: "shown"} : {state: "ready"};
if (!el) return {state: "missing"};
const tag = el.tagName.toLowerCase(), type = (el.getAttribute("type") || "").toLowerCase();
const fire = (t, name) => t.dispatchEvent(new Event(name, {bubbles: true}));
if (op === "value") return {state: "ready", value: el.value === undefined || el.value === null ? "" : String(el.value)};
if (op === "attribute") { const a = el.getAttribute(String(val)); return {state: "ready", value: a, present: a !== null}; }
if (op === "peek") return {state: "ready", text: tag === "select" ? (juruShown(el) ? juruLabels(el).join("\n") : "") : juruText(el), shown: juruShown(el)};
if (op === "date") {
  let v = String(val).trim();
  let m = v.match(/^(\d{4})-(\d{1,2})-(\d{1,2})$/);
  let d = m ? [m[3], m[2], m[1]] : (v.match(/^(\d{1,2})[\/.-](\d{1,2})[\/.-](\d{4})$/) || []).slice(1);
  if (d.length !== 3) return {state: "baddate"};
  const pad = s => String(s).padStart(2, "0");
  v = type === "date" ? `${d[2]}-${pad(d[1])}-${pad(d[0])}` : `${pad(d[0])}/${pad(d[1])}/${d[2]}`;
  el.value = v; fire(el, "input"); fire(el, "change");
  return {state: "ready", value: el.value};
}
if (tag === "input" && type === "radio" && op === "set" && typeof val === "string" && el.value !== val) {
  const scope = el.form || document;
  const group = Array.from(scope.querySelectorAll("input[type=radio]")).filter(r => r.name === el.name);
  const match = group.find(r => r.value === val) || group.find(r => r.value.toLowerCase() === val.trim().toLowerCase());
  if (!match) return {state: "nooption", options: group.map(r => r.value)};
  el = match;
}
// Reading needs the element shown; acting also takes a transparent one (a styled
// checkbox under its label), as a person clicks it where it is.
if (!juruShown(el, op !== "text" && op !== "visible")) return {state: "hidden"};
if (op === "text") return {state: "ready", text: tag === "select" ? juruLabels(el).join("\n") : juruText(el)};
if (op === "visible") return {state: "ready"};
if (el.disabled) return {state: "disabled"};
if (op === "select_index" || op === "deselect") {
  if (tag !== "select") return {state: "notselect", tag: tag};
  const norm = s => s.replace(/\s+/g, " ").trim();
  const opts = Array.from(el.options);
  let chosen;
  if (op === "select_index") {
    chosen = opts[Number(val)];
    if (!chosen) return {state: "nooption", options: opts.map((o, i) => `${i}: ${norm(o.text)}`)};
    if (chosen.selected && !el.multiple) return {state: "ready"};
  } else {
    if (!el.multiple) return {state: "single"};
    if (val === null) { chosen = opts.filter(o => o.selected); }
    else {
      const want = norm(String(val));
      const one = opts.find(o => norm(o.text) === want) || opts.find(o => o.value === String(val)) || opts.find(o => norm(o.text).toLowerCase() === want.toLowerCase());
      if (!one) return {state: "nooption", options: opts.map(o => norm(o.text)).filter(t => t)};
      chosen = [one];
    }
  }
  el.focus();
  if (op === "select_index") chosen.selected = true; else chosen.forEach(o => { o.selected = false; });
  fire(el, "input"); fire(el, "change"); el.blur();
  return {state: "ready"};
}
if (op === "set") {
  if (tag === "select") {
    const want = String(val).trim(), norm = s => s.replace(/\s+/g, " ").trim();
    const opts = Array.from(el.options);
    const opt = opts.find(o => norm(o.text) === norm(want)) || opts.find(o => o.value === want)
      || opts.find(o => norm(o.text).toLowerCase() === norm(want).toLowerCase());
    if (!opt && !opts.some(o => o.value !== "")) return {state: "empty"};
    if (!opt) return {state: "nooption", options: opts.map(o => norm(o.text)).filter(t => t)};
    if (!opt.selected) { el.focus(); opt.selected = true; fire(el, "input"); fire(el, "change"); el.blur(); }
    return {state: "ready"};
  }
  if (type === "radio") { if (!el.checked) el.click(); return {state: "ready"}; }
  if (type === "checkbox") {
    const on = val === true || ["1", "true", "ya", "y", "yes", "x", "on", "v"].includes(String(val).trim().toLowerCase());
    if (el.checked !== on) el.click();
    return {state: "ready"};
  }
  if (type === "file") return {state: "file"};
  if (el.readOnly) return {state: "readonly"};
  // As a person types: focus, then per character keydown, keypress, the character
  // (unless a handler refused it, or the field is full), input, keyup; then change
  // and blur. A window without focus (after a popup closed) fires no focus or blur
  // events of its own: then juru fires them.
  const seen = {focus: false, blur: false};
  const mark = e => { seen[e.type] = true; };
  el.addEventListener("focus", mark); el.addEventListener("blur", mark);
  const had = document.activeElement === el;
  el.focus();
  if (!had && !seen.focus) {
    el.dispatchEvent(new FocusEvent("focus"));
    el.dispatchEvent(new FocusEvent("focusin", {bubbles: true}));
  }
  const before = el.value;
  el.value = "";
  if (before !== "") el.dispatchEvent(new InputEvent("input", {bubbles: true, inputType: "deleteContentBackward"}));
  for (const ch of String(val)) {
    // keyCode/which as old pages read them: the key's code on keydown/keyup, the
    // character's on keypress.
    const upper = ch.toUpperCase(), kc = upper.length === 1 && /[A-Z0-9]/.test(upper) ? upper.charCodeAt(0) : ch.charCodeAt(0);
    const key = {key: ch, keyCode: kc, which: kc, bubbles: true, cancelable: true};
    const typed = {key: ch, keyCode: ch.charCodeAt(0), which: ch.charCodeAt(0), charCode: ch.charCodeAt(0), bubbles: true, cancelable: true};
    const down = el.dispatchEvent(new KeyboardEvent("keydown", key));
    const press = down && el.dispatchEvent(new KeyboardEvent("keypress", typed));
    const full = el.maxLength > 0 && el.value.length >= el.maxLength;
    if (press && !full) {
      el.value += ch;
      el.dispatchEvent(new InputEvent("input", {bubbles: true, inputType: "insertText", data: ch}));
    }
    el.dispatchEvent(new KeyboardEvent("keyup", key));
  }
  if (el.value !== before) fire(el, "change");
  el.blur();
  if (!seen.blur) {
    el.dispatchEvent(new FocusEvent("blur"));
    el.dispatchEvent(new FocusEvent("focusout", {bubbles: true}));
  }
  el.removeEventListener("focus", mark); el.removeEventListener("blur", mark);
  return {state: "ready"};
}
return {state: "ready", el: el, tag: tag, type: type, checked: !!el.checked};
"#;

/// Sets several fields (`arguments[0]`: `[[selector, value], ...]`, only those whose
/// index is in `arguments[1]`). Fields that are not ready yet (missing, hidden,
/// disabled, a select whose options have not arrived) are left for the next call;
/// a field that can never be set stops the script with its error and index.
/// Runs after [`ELEMENT`] is defined as the function `one`.
pub const FILL_FORM: &str = r#"
const [fields, todo] = arguments;
const pending = [], states = [];
for (const i of todo) {
  const r = one(fields[i][0], "set", fields[i][1]);
  if (r.state === "ready") continue;
  if (["missing", "hidden", "disabled", "empty"].includes(r.state)) { pending.push(i); states.push(r.state); continue; }
  r.index = i;
  return r;
}
return pending.length ? {state: "pending", pending: pending, states: states} : {state: "ready"};
"#;

/// The page's title and its first heading, to recognise server error pages.
pub const PAGE: &str = r#"
const h = document.querySelector("h1, h2");
const nav = performance.getEntriesByType("navigation")[0];
return {title: document.title || "", heading: h ? (h.innerText || "").trim() : "", url: location.href, status: nav ? (nav.responseStatus || 0) : 0};
"#;

/// Reads a table (`arguments[0]`) into rows keyed by header text. Headers: the `th`
/// cells of the first row that has any, else the first row's cells.
pub const TABLE: &str = r#"
const [sel, mark] = arguments;
let t;
try { t = document.querySelector(sel); } catch (e) { return {state: "invalid", message: String(e.message)}; }
if (!t) return {state: "missing"};
if (t.dataset.juruSeen === mark) return {state: "stale"};
const rows = Array.from(t.rows);
let headRow = rows.findIndex(r => r.querySelector("th"));
if (headRow < 0) headRow = 0;
const text = c => (c.innerText || c.textContent || "").replace(/\s+/g, " ").trim();
const seen = {};
const headers = rows.length ? Array.from(rows[headRow].cells).map((c, i) => {
  let h = text(c) || `Kolom ${i + 1}`;
  seen[h] = (seen[h] || 0) + 1;
  return seen[h] > 1 ? `${h} ${seen[h]}` : h;
}) : [];
const out = [];
for (const r of rows.slice(headRow + 1)) {
  if (r.querySelector("th") && !r.querySelector("td")) continue;
  const cells = Array.from(r.cells);
  if (!cells.length) continue;
  const row = {};
  headers.forEach((h, i) => { row[h] = cells[i] ? text(cells[i]) : ""; });
  out.push(row);
}
return {state: "ready", headers: headers, rows: out};
"#;

/// Marks a table as read, so the next page's table can be told apart from it.
pub const MARK_TABLE: &str = r#"
const t = document.querySelector(arguments[0]);
if (t) t.dataset.juruSeen = arguments[1];
"#;

/// `juruErrorPage()`: the title (or first heading) of the page when it is a server
/// error page ("500 Internal Server Error", "Service Unavailable"), else `null`. The
/// same rule as `session::error_page` for `open()`.
pub const ERROR_PAGE: &str = r#"
function juruErrorPage() {
  const h = document.querySelector("h1, h2");
  for (const t of [document.title || "", h ? (h.innerText || "") : ""]) {
    const x = t.trim();
    if (/^5\d\d(\s|$)/.test(x) || /internal server error|service unavailable|bad gateway|gateway time-?out|server error/i.test(x)) return x;
  }
  return null;
}
"#;

/// [`FILL_FORM`] with [`ELEMENT`] as its helper, built once.
pub static FILL_FORM_FULL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("const one = function() {{ {VISIBLE}{ELEMENT} }};\n{FILL_FORM}")
});

/// [`ELEMENT`] with [`VISIBLE`] before it, built once.
pub static ELEMENT_FULL: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{VISIBLE}{ELEMENT}"));

/// Runs [`ELEMENT`] inside the page until the element is ready or `budget` ms have
/// passed, then answers (an asynchronous script: the last argument is the callback).
/// One round trip instead of one per poll.
pub static ELEMENT_WAIT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        r#"const one = function() {{ {VISIBLE}{ELEMENT} }};
{ERROR_PAGE}
const done = arguments[arguments.length - 1];
const [sel, op, val, budget] = arguments;
const t0 = Date.now();
(function tick() {{
  let r;
  try {{ r = one(sel, op, val); }} catch (e) {{ r = {{state: "missing", message: String(e)}}; }}
  if (r.state === "missing") {{
    const err = juruErrorPage();
    if (err) {{ done({{state: "errorpage", title: err, url: location.href}}); return; }}
  }}
  const waiting = ["missing", "hidden", "disabled", "empty", "shown"].includes(r.state);
  if (!waiting || Date.now() - t0 >= budget) {{ done(r); return; }}
  setTimeout(tick, 40);
}})();"#
    )
});

/// Waits inside the page until its text contains `arguments[0]` or `arguments[1]` ms
/// have passed; answers whether it does, or `{errorpage: title, url}` as soon as the
/// page is a server error page.
pub static TEXT_WAIT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        r#"{ERROR_PAGE}
const done = arguments[arguments.length - 1];
const [text, budget] = arguments;
const t0 = Date.now();
(function tick() {{
  const found = !!document.body && document.body.innerText.includes(text);
  if (!found) {{
    const err = juruErrorPage();
    if (err) {{ done({{errorpage: err, url: location.href}}); return; }}
  }}
  if (found || Date.now() - t0 >= budget) {{ done(found); return; }}
  setTimeout(tick, 40);
}})();"#
    )
});

/// Waits inside the page until its title (`arguments[0]` is `"title"`) or address
/// (`"url"`) contains `arguments[1]`, or matches it when it is written `/pattern/flags`,
/// or `arguments[2]` ms have passed. Answers `{found, value}`, `{invalid: message}`
/// for a pattern that is not one, or `{errorpage: title, url}`.
pub static PAGE_WAIT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        r#"{ERROR_PAGE}
const done = arguments[arguments.length - 1];
const [what, wanted, budget] = arguments;
let test;
const m = /^\/([\s\S]*)\/([a-z]*)$/.exec(wanted);
if (m && wanted.length > 1) {{
  let re;
  try {{ re = new RegExp(m[1], m[2]); }} catch (e) {{ done({{invalid: String(e.message)}}); return; }}
  test = v => re.test(v);
}} else {{
  test = v => v.includes(wanted);
}}
const t0 = Date.now();
(function tick() {{
  const value = what === "title" ? String(document.title) : String(location.href);
  const found = test(value);
  if (!found) {{
    const err = juruErrorPage();
    if (err) {{ done({{errorpage: err, url: location.href}}); return; }}
  }}
  if (found || Date.now() - t0 >= budget) {{ done({{found: found, value: value}}); return; }}
  setTimeout(tick, 40);
}})();"#
    )
});

/// What the page has, for the message about a missing element: `arguments[0]` is
/// `fields` (shown inputs, selects, textareas, with a selector and their label),
/// `links` (link texts) or `frames`. Answers `{items: [{sel, label}], more, frames}`.
pub const HINT: &str = r##"
const what = arguments[0];
const clean = t => String(t || "").replace(/\s+/g, " ").replace(/[*:]+\s*$/, "").trim().slice(0, 40);
const label = el => {
  let t = "";
  if (el.id) { const l = document.querySelector(`label[for="${CSS.escape(el.id)}"]`); if (l) t = l.innerText; }
  if (!t && el.closest("label")) t = el.closest("label").innerText;
  if (!t) { const td = el.closest("td"); const prev = td && td.previousElementSibling; if (prev) t = prev.innerText; }
  if (!t) t = el.getAttribute("placeholder") || el.getAttribute("title") || "";
  return clean(t);
};
const sel = el => {
  const tag = el.tagName.toLowerCase();
  if (el.id) return "#" + CSS.escape(el.id);
  const name = el.getAttribute("name");
  return name ? `${tag}[name=${JSON.stringify(name)}]` : tag;
};
const frameEls = Array.from(document.querySelectorAll("frame, iframe"));
const frames = frameEls.map((f, i) => f.getAttribute("name") || f.id || String(i));
let items = [];
if (what === "frames") {
  items = frameEls.map((f, i) => ({sel: f.getAttribute("name") || f.id || String(i), label: f.getAttribute("src") || ""}));
} else if (what === "links") {
  items = Array.from(document.querySelectorAll("a[href]")).filter(a => juruShown(a)).map(a => ({sel: clean(a.innerText), label: ""})).filter(i => i.sel);
} else {
  items = Array.from(document.querySelectorAll("input, select, textarea"))
    .filter(e => (e.getAttribute("type") || "").toLowerCase() !== "hidden" && juruShown(e, true))
    .map(e => ({sel: sel(e), label: label(e)}));
}
return {items: items.slice(0, 8), more: Math.max(0, items.length - 8), frames: frames};
"##;

/// [`HINT`] with [`VISIBLE`] before it, built once.
pub static HINT_FULL: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{VISIBLE}{HINT}"));
