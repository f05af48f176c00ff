// What juru inspect and juru record share: the shortest stable selector of an
// element and the text a person reads beside a field. Runs inside the document
// it studies (`doc`); returns nothing.
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
