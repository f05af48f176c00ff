//! Scripts juru runs inside the page. Each one does a whole step in one WebDriver
//! round trip: find, check readiness, act, fire the events the page listens to.

/// Finds `arguments[0]` and, if it is ready, does `arguments[1]` with `arguments[2]`.
///
/// Returns `{state}`: `ready` (with the element and what was asked), `missing`,
/// `hidden`, `disabled`, `readonly`, `nooption` (with `options`), `invalid`
/// (a bad selector, with `message`). Operations:
/// - `probe`: the element, its tag, type and checked state;
/// - `set`: set the field to the value as a person would (see `SET` below);
/// - `text`: its visible text; `value`: its value;
/// - `date`: set the value of a date field even when it is read-only or hidden.
pub const ELEMENT: &str = r#"
const [sel, op, val] = arguments;
let el;
try { el = document.querySelector(sel); } catch (e) { return {state: "invalid", message: String(e.message)}; }
if (!el) return {state: "missing"};
const tag = el.tagName.toLowerCase(), type = (el.getAttribute("type") || "").toLowerCase();
const fire = (t, name) => t.dispatchEvent(new Event(name, {bubbles: true}));
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
const style = window.getComputedStyle(el);
const shown = type === "hidden" || (style.visibility !== "hidden" && style.display !== "none" && el.getClientRects().length > 0);
if (!shown) return {state: "hidden"};
if (el.disabled) return {state: "disabled"};
if (op === "text") return {state: "ready", text: (el.innerText || el.textContent || "").trim()};
if (op === "value") return {state: "ready", value: el.value === undefined ? "" : String(el.value)};
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
  el.focus();
  el.value = String(val);
  fire(el, "input"); fire(el, "change");
  el.blur();
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

/// [`FILL_FORM`] with [`ELEMENT`] as its helper, built once.
pub static FILL_FORM_FULL: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("const one = function() {{ {ELEMENT} }};\n{FILL_FORM}"));

/// Runs [`ELEMENT`] inside the page until the element is ready or `budget` ms have
/// passed, then answers (an asynchronous script: the last argument is the callback).
/// One round trip instead of one per poll.
pub static ELEMENT_WAIT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        r#"const one = function() {{ {ELEMENT} }};
const done = arguments[arguments.length - 1];
const [sel, op, val, budget] = arguments;
const t0 = Date.now();
(function tick() {{
  let r;
  try {{ r = one(sel, op, val); }} catch (e) {{ r = {{state: "missing", message: String(e)}}; }}
  const waiting = ["missing", "hidden", "disabled", "empty"].includes(r.state);
  if (!waiting || Date.now() - t0 >= budget) {{ done(r); return; }}
  setTimeout(tick, 40);
}})();"#
    )
});

/// Waits inside the page until its text contains `arguments[0]` or `arguments[1]` ms
/// have passed; answers whether it does.
pub const TEXT_WAIT: &str = r#"
const done = arguments[arguments.length - 1];
const [text, budget] = arguments;
const t0 = Date.now();
(function tick() {
  const found = !!document.body && document.body.innerText.includes(text);
  if (found || Date.now() - t0 >= budget) { done(found); return; }
  setTimeout(tick, 40);
})();
"#;
