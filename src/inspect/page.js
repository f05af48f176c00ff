// Studies the document of the current frame for `juru inspect`: its frames, forms,
// fields, buttons, links, tables and popups, each with the shortest selector that
// finds it alone. Returns plain JSON (no element references). Follows select.js.
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
