// Studies the document of the current frame for `juru inspect`: its frames, forms,
// fields, buttons, links, tables and popups, each with the shortest selector that
// finds it alone. Returns plain JSON (no element references).
const doc = document;
const clean = s => String(s || "").replace(/\s+/g, " ").trim();
const shown = el => {
  if (!el.getClientRects || el.getClientRects().length === 0) return false;
  const st = window.getComputedStyle(el);
  return st.visibility !== "hidden" && st.display !== "none";
};
const simple = v => /^[A-Za-z_][A-Za-z0-9_-]*$/.test(v);
const attr = (name, v) => simple(v) ? `[${name}=${v}]` : `[${name}="${String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"]`;
const alone = (sel, el) => {
  try { const all = doc.querySelectorAll(sel); return all.length === 1 && all[0] === el; } catch (e) { return false; }
};
const tagOf = el => el.tagName.toLowerCase();
// Ids that frameworks generate (ext-gen123, j_idt45:nama, ctl00_x) change between
// versions of a page: used only when nothing else is unique.
const generated = id => /\d{3,}|^(ext-gen|j_idt|ctl\d|yui-gen|gwt-)/i.test(id) || /^[0-9]/.test(id);

// The shortest stable selector of `el`: id, name, another unique attribute, a unique
// class, then a short path from the nearest ancestor that has one of those.
function own(el) {
  const tag = tagOf(el);
  const id = el.getAttribute("id");
  if (id && !generated(id)) {
    const s = simple(id) ? `#${id}` : attr("id", id);
    if (alone(s, el)) return s;
  }
  const name = el.getAttribute("name");
  if (name) {
    const s = tag + attr("name", name);
    if (alone(s, el)) return s;
  }
  for (const a of ["value", "aria-label", "title", "placeholder", "alt", "data-id", "data-name", "for", "action", "href", "src"]) {
    const v = el.getAttribute(a);
    if (!v || v.length > 60 || (a === "value" && !["input", "button"].includes(tag))) continue;
    if (a === "value" && tag === "input" && !["submit", "button", "reset", "image"].includes((el.getAttribute("type") || "").toLowerCase())) continue;
    const s = tag + attr(a, v);
    if (alone(s, el)) return s;
  }
  const type = el.getAttribute("type");
  if (type) {
    const s = tag + attr("type", type);
    if (alone(s, el)) return s;
  }
  for (const c of Array.from(el.classList)) {
    if (!simple(c)) continue;
    const s = `${tag}.${c}`;
    if (alone(s, el)) return s;
  }
  if (id) {
    const s = simple(id) ? `#${id}` : attr("id", id);
    if (alone(s, el)) return s;
  }
  return null;
}

function selectorOf(el) {
  const mine = own(el);
  if (mine) return {selector: mine, positional: false};
  // A path: the nearest ancestor that has its own selector, then tags (and classes)
  // down to the element, numbered only where siblings of the same tag are ambiguous.
  let parts = [], cur = el, positional = false;
  while (cur && cur.nodeType === 1 && cur !== doc.documentElement) {
    const tag = tagOf(cur);
    let part = tag;
    const cls = Array.from(cur.classList).filter(simple)[0];
    if (cls) part += "." + cls;
    const parent = cur.parentElement;
    if (parent) {
      const same = Array.from(parent.children).filter(c => c.matches(part));
      if (same.length > 1) { part += `:nth-of-type(${Array.from(parent.children).filter(c => tagOf(c) === tag).indexOf(cur) + 1})`; }
    }
    parts.unshift(part);
    const anchor = parent && parent !== doc.body && parent !== doc.documentElement ? own(parent) : null;
    const candidate = (anchor ? anchor + " " : "") + parts.join(" > ");
    if (alone(candidate, el)) {
      positional = /nth-of-type/.test(candidate);
      return {selector: candidate, positional};
    }
    cur = parent;
  }
  return {selector: parts.join(" > "), positional: true};
}

// What a person reads beside a field: its <label>, aria attributes, or in a table
// layout the cell before it (skipping a cell that holds only ":").
function labelOf(el) {
  const fromLabels = Array.from(el.labels || []).map(l => {
    const c = l.cloneNode(true);
    c.querySelectorAll("input, select, textarea, button").forEach(x => x.remove());
    return clean(c.textContent);
  }).filter(t => t);
  if (fromLabels.length) return fromLabels[0];
  if (el.getAttribute("aria-label")) return clean(el.getAttribute("aria-label"));
  const by = el.getAttribute("aria-labelledby");
  if (by) {
    const t = by.split(/\s+/).map(i => doc.getElementById(i)).filter(x => x).map(x => clean(x.textContent)).join(" ");
    if (t) return t;
  }
  const cell = el.closest("td, th");
  if (cell) {
    let prev = cell.previousElementSibling;
    while (prev && /^[:\s]*$/.test(prev.textContent)) prev = prev.previousElementSibling;
    if (prev && !prev.querySelector("input, select, textarea")) return clean(prev.textContent);
  }
  // Text just before the field in its parent ("Cari NIK: <input>").
  let n = el.previousSibling, text = "";
  while (n && text.length < 80) {
    if (n.nodeType === 1 && n.matches("input, select, textarea, br, p, div, table")) break;
    text = (n.textContent || "") + text;
    n = n.previousSibling;
  }
  if (clean(text)) return clean(text);
  return clean(el.getAttribute("title") || el.getAttribute("placeholder") || "");
}

// The text of one radio button or checkbox: its <label>, else the text after it.
function choiceLabel(el) {
  const own = Array.from(el.labels || []).map(l => clean(l.textContent)).filter(t => t);
  if (own.length) return own[0];
  let n = el.nextSibling, text = "";
  while (n && text.length < 80) {
    if (n.nodeType === 1 && n.matches("input, select, textarea, br, p, div, table")) break;
    text += n.textContent || "";
    n = n.nextSibling;
  }
  return clean(text);
}

const dateWords = /tanggal|tgl|date|kalender|calendar|datepicker/i;
const handlers = el => ["onclick", "onfocus", "onmousedown"].map(a => el.getAttribute(a) || "").join(" ");
const popupOf = el => {
  const js = handlers(el) + " " + (el.getAttribute("href") || "");
  const m = js.match(/window\.open\s*\(\s*['"]([^'"]*)['"]/);
  if (m) return {how: "window.open", url: m[1]};
  if (/window\.open\s*\(/.test(js)) return {how: "window.open", url: ""};
  return null;
};
const confirms = el => /confirm\s*\(/.test(handlers(el));

const frameNames = new Set(Array.from(doc.querySelectorAll("frame, iframe")).map(f => f.getAttribute("name")).filter(n => n));

// Fields.
const fields = [], radioSeen = new Set();
for (const el of doc.querySelectorAll("input, select, textarea")) {
  const tag = tagOf(el);
  let type = tag === "input" ? (el.getAttribute("type") || "text").toLowerCase() : tag;
  if (["submit", "button", "reset", "image"].includes(type)) continue;
  const f = {
    tag, type,
    name: el.getAttribute("name") || "",
    id: el.getAttribute("id") || "",
    label: labelOf(el),
    required: el.required || el.getAttribute("aria-required") === "true",
    disabled: el.disabled,
    readonly: !!el.readOnly,
    visible: type !== "hidden" && shown(el),
    form: el.form ? Array.from(doc.forms).indexOf(el.form) : -1,
  };
  if (type === "radio") {
    const key = (el.form ? Array.from(doc.forms).indexOf(el.form) : -1) + ":" + f.name;
    if (f.name && radioSeen.has(key)) continue;
    radioSeen.add(key);
    const scope = el.form || doc;
    const group = f.name ? Array.from(scope.querySelectorAll("input[type=radio]")).filter(r => r.name === f.name) : [el];
    f.options = group.map(r => ({value: r.value, label: choiceLabel(r) || r.value}));
    const groupSel = "input" + attr("name", f.name);
    if (f.name && doc.querySelectorAll(groupSel).length === group.length) { f.selector = groupSel; f.positional = false; }
    else Object.assign(f, selectorOf(el));
    // A group's own label is usually the cell before it, not a radio's.
    const cell = el.closest("td, th");
    let prev = cell ? cell.previousElementSibling : null;
    while (prev && /^[:\s]*$/.test(prev.textContent)) prev = prev.previousElementSibling;
    f.label = prev ? clean(prev.textContent) : (f.name || f.label);
  } else {
    Object.assign(f, selectorOf(el));
  }
  if (tag === "select") {
    f.options = Array.from(el.options).map(o => ({value: o.value, label: clean(o.text)}));
    f.multiple = el.multiple;
  }
  // A required mark in the label (a red "*").
  if (/\*\s*$/.test(f.label)) { f.required = true; f.label = clean(f.label.replace(/\*\s*$/, "")); }
  f.label = f.label.replace(/\s*:\s*$/, "");
  // Calendar widgets: a date input, a read-only box that opens a calendar (its value
  // usually goes to a hidden field beside it), a field named like a date.
  const hint = [f.name, f.id, f.label, el.className, handlers(el)].join(" ");
  if (type === "date" || type === "datetime-local") f.date = true;
  else if (type === "text" && (dateWords.test(hint) || (f.readonly && /kalender|calendar|date|picker/i.test(handlers(el) + el.className)))) f.date = true;
  if (f.date && f.readonly) {
    const box = el.parentElement;
    const partner = box ? Array.from(box.querySelectorAll("input[type=hidden]")).find(h => h.name) : null;
    if (partner) f.date_target = selectorOf(partner).selector;
  }
  fields.push(f);
}

// Buttons.
const buttons = [];
for (const el of doc.querySelectorAll("button, input[type=submit], input[type=button], input[type=reset], input[type=image], [role=button]")) {
  const tag = tagOf(el);
  const type = (el.getAttribute("type") || (tag === "button" ? "submit" : "button")).toLowerCase();
  buttons.push(Object.assign({
    text: clean(tag === "input" ? (el.value || el.getAttribute("alt") || "") : el.textContent),
    type,
    id: el.getAttribute("id") || "",
    name: el.getAttribute("name") || "",
    disabled: !!el.disabled,
    visible: shown(el),
    confirm: confirms(el),
    popup: popupOf(el),
    form: el.form ? Array.from(doc.forms).indexOf(el.form) : -1,
  }, selectorOf(el)));
}

// Links (the first 200).
const links = [];
for (const el of Array.from(doc.querySelectorAll("a[href]")).slice(0, 200)) {
  const target = el.getAttribute("target") || "";
  let popup = popupOf(el);
  if (!popup && target && !["_self", "_top", "_parent"].includes(target) && !frameNames.has(target) && !(window.top && window.top.frames && window.top.frames[target])) {
    popup = {how: target === "_blank" ? "target=_blank" : `target=${target}`, url: el.href};
  }
  const text = clean(el.textContent) || clean(el.getAttribute("title") || "");
  links.push(Object.assign({
    text,
    href: el.getAttribute("href"),
    target,
    popup,
    confirm: confirms(el),
    text_unique: text !== "" && Array.from(doc.querySelectorAll("a")).filter(a => clean(a.textContent) === text).length === 1,
    visible: shown(el),
  }, selectorOf(el)));
}

// Data tables: those with header cells.
const tables = [];
for (const t of doc.querySelectorAll("table")) {
  const rows = Array.from(t.rows);
  const has = (r, tag) => Array.from(r.cells).some(c => c.tagName === tag);
  const headRow = rows.findIndex(r => has(r, "TH"));
  if (headRow < 0) continue;
  const body = rows.slice(headRow + 1).filter(r => has(r, "TD"));
  tables.push(Object.assign({
    headers: Array.from(rows[headRow].cells).map(c => clean(c.textContent)),
    rows: body.length,
  }, selectorOf(t)));
}

// Forms.
const forms = Array.from(doc.forms).map((f, i) => Object.assign({
  index: i,
  name: f.getAttribute("name") || "",
  id: f.getAttribute("id") || "",
  action: f.getAttribute("action") || "",
  method: (f.getAttribute("method") || "get").toLowerCase(),
}, selectorOf(f)));

// Frames: to be entered by name (or id) with browser.in_frame.
const frames = Array.from(doc.querySelectorAll("frame, iframe")).map(f => ({
  tag: tagOf(f),
  name: f.getAttribute("name") || "",
  id: f.getAttribute("id") || "",
  src: f.getAttribute("src") || "",
  url: f.src || "",
}));

return {
  url: location.href,
  title: doc.title || "",
  ready: doc.readyState,
  heading: clean((doc.querySelector("h1, h2, h3") || {}).textContent),
  frames, forms, fields, buttons, links, tables,
};
