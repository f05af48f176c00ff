// Records what a person does in one document for `juru record` (follows select.js,
// inside one function that runs once per document). Every action becomes an event
// in the tab's sessionStorage (shared by the page and its same-origin frames, and
// kept across the page's own navigations), which juru drains every few hundred
// milliseconds. Typed text is one event per field with its final value (on change or
// when the field is left), not one per key; dialogs are wrapped to log their text and
// the answer given.
window.__juruRec = true;
const KEY = "__juru_rec";
let counter = 0;
const tag = Math.random().toString(36).slice(2, 10);

// The frame path from the top: each frame's name, else its id, else its index.
function framePath() {
  const path = [];
  let w = window;
  try {
    while (w !== w.top) {
      const fe = w.frameElement;
      if (!fe) return null;
      let key = fe.getAttribute("name") || fe.getAttribute("id");
      if (!key || key.includes(">")) {
        key = "0";
        for (let i = 0; i < w.parent.frames.length; i++) if (w.parent.frames[i] === w) key = String(i);
      }
      path.unshift(key);
      w = w.parent;
    }
  } catch (e) {
    return null;
  }
  return path;
}

// The queue: the tab's sessionStorage; a popup's actions go to its opener's tab
// (a popup often closes itself with its last click, before juru drains it).
function storage() {
  try {
    const opener = window.top.opener;
    if (opener && opener.sessionStorage && opener.__juruRec) return [opener.sessionStorage, true];
  } catch (e) { /* another origin opened it */ }
  return [sessionStorage, false];
}

function push(ev) {
  ev.id = `${tag}-${++counter}`;
  ev.t = Date.now();
  ev.frame = framePath();
  ev.url = location.href;
  try { ev.title = window.top.document.title || ""; } catch (e) { ev.title = doc.title || ""; }
  try {
    const [store, popup] = storage();
    ev.popup = popup;
    const list = JSON.parse(store.getItem(KEY) || "[]");
    list.push(ev);
    store.setItem(KEY, JSON.stringify(list));
  } catch (e) { /* storage refused: the action is not recorded */ }
}

const typeOf = el => tagOf(el) === "input" ? (el.getAttribute("type") || "text").toLowerCase() : tagOf(el);
const textLike = ["text", "email", "number", "tel", "search", "url", "password", "textarea", "date", "datetime-local", "month", "time"];

function isDate(el) {
  const type = typeOf(el);
  if (type === "date" || type === "datetime-local") return true;
  if (type === "hidden") return dateWords.test([el.getAttribute("name"), el.id].join(" "));
  if (type !== "text") return false;
  const hint = [el.getAttribute("name"), el.id, labelOf(el), el.className, handlers(el)].join(" ");
  return dateWords.test(hint) || (el.readOnly && /kalender|calendar|date|picker/i.test(handlers(el) + el.className));
}

// The field a date really goes to: the hidden field beside a read-only calendar box.
function dateTarget(el) {
  if (!el.readOnly || !el.parentElement) return null;
  const partner = Array.from(el.parentElement.querySelectorAll("input[type=hidden]")).find(h => h.name);
  return partner ? selectorOf(partner).selector : null;
}

const recorded = new WeakMap();

// A field's value, when it differs from what was recorded (or seen on focus).
function field(el) {
  if (!el || !el.matches || !el.matches("input, select, textarea")) return;
  const type = typeOf(el);
  const base = Object.assign({label: labelOf(el).replace(/\s*\*?\s*:?\s*$/, ""), name: el.getAttribute("name") || "", field_id: el.id || "", type}, selectorOf(el));
  if (type === "checkbox") {
    push(Object.assign(base, {kind: "check", checked: el.checked}));
  } else if (type === "radio") {
    const scope = el.form || doc;
    const group = el.name ? Array.from(scope.querySelectorAll("input[type=radio]")).filter(r => r.name === el.name) : [el];
    const groupSel = "input" + attr("name", el.name);
    if (el.name && doc.querySelectorAll(groupSel).length === group.length) { base.selector = groupSel; base.positional = false; }
    const cell = el.closest("td, th");
    let prev = cell ? cell.previousElementSibling : null;
    while (prev && /^[:\s]*$/.test(prev.textContent)) prev = prev.previousElementSibling;
    base.label = prev ? clean(prev.textContent).replace(/\s*\*?\s*:?\s*$/, "") : (el.name || choiceLabel(el));
    push(Object.assign(base, {kind: "radio", value: el.value, text: choiceLabel(el)}));
  } else if (tagOf(el) === "select") {
    const chosen = Array.from(el.selectedOptions || []).map(o => clean(o.text));
    push(Object.assign(base, {kind: "select", value: chosen[0] || ""}));
  } else if (type === "file") {
    push(Object.assign(base, {kind: "upload", files: Array.from(el.files || []).map(f => f.name)}));
  } else if (textLike.includes(type)) {
    if (recorded.get(el) === el.value) return;
    // A read-only box the page fills (a look-up's answer) is not the person's; a
    // read-only calendar box is.
    if ((el.readOnly || el.disabled) && !isDate(el)) return;
    recorded.set(el, el.value);
    const date = isDate(el);
    const target = date ? dateTarget(el) : null;
    if (target) base.selector = target;
    if (date) dates.set(el, el.value);
    push(Object.assign(base, {kind: date ? "date" : "fill", value: el.value}));
  }
}

// Calendar widgets write their date by script (no change event): after each click
// the date fields are looked at again; a new value is a date chosen, and the click
// on the calendar's day is not a step of its own.
const dates = new WeakMap();
function dateFields() {
  return Array.from(doc.querySelectorAll("input")).filter(el => ["text", "hidden", "date", "datetime-local"].includes(typeOf(el)) && isDate(el));
}
function scanDates(cause) {
  for (const el of dateFields()) {
    const before = dates.has(el) ? dates.get(el) : "";
    if (el.value === before || el === doc.activeElement && !el.readOnly && typeOf(el) !== "hidden") continue;
    dates.set(el, el.value);
    if (el.value === "") continue;
    // A read-only box with a hidden field beside it: the hidden field is the date.
    if (typeOf(el) !== "hidden" && dateTarget(el)) continue;
    push(Object.assign({kind: "date", label: labelOf(el).replace(/\s*\*?\s*:?\s*$/, ""), name: el.getAttribute("name") || "", field_id: el.id || "", type: typeOf(el), value: el.value, replaces: cause || ""}, selectorOf(el)));
  }
}
const remember = () => { for (const el of dateFields()) if (!dates.has(el)) dates.set(el, el.value); };
if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", remember); else remember();

doc.addEventListener("focusin", e => {
  const el = e.target;
  if (el && el.matches && el.matches("input, textarea") && !recorded.has(el)) recorded.set(el, el.value);
}, true);
doc.addEventListener("change", e => field(e.target), true);
// A calendar box that a script fills (no change event): its value when it is left.
doc.addEventListener("focusout", e => {
  const el = e.target;
  if (el && el.matches && el.matches("input, textarea") && textLike.includes(typeOf(el))) field(el);
}, true);
// Enter in a field sends its form: the field's value first.
doc.addEventListener("submit", e => {
  const el = doc.activeElement;
  if (el && el.matches && el.matches("input, textarea")) {
    field(el);
    if (e.submitter == null) push(Object.assign({kind: "enter", label: labelOf(el)}, selectorOf(el)));
  }
}, true);

const clickable = "button, input[type=submit], input[type=button], input[type=image], input[type=reset], a[href], [role=button], [onclick]";
doc.addEventListener("click", e => {
  const start = e.target && e.target.closest ? e.target : null;
  if (!start || !e.isTrusted) return;
  const el = start.closest(clickable);
  let cause = "";
  if (el && !el.matches("input:not([type=submit]):not([type=button]):not([type=image]):not([type=reset]), select, textarea, label, option")) {
    const isLink = tagOf(el) === "a";
    const text = clean(tagOf(el) === "input" ? (el.value || el.getAttribute("alt") || "") : el.textContent);
    const unique = isLink && text !== "" && Array.from(doc.querySelectorAll("a")).filter(a => clean(a.textContent) === text).length === 1;
    push(Object.assign({kind: isLink ? "link" : "click", text, unique, target: el.getAttribute("target") || ""}, selectorOf(el)));
    cause = `${tag}-${counter}`;
  }
  setTimeout(() => scanDates(cause), 50);
}, true);

// Dialogs: the text and the answer the person gave.
for (const kind of ["alert", "confirm", "prompt"]) {
  const original = window[kind];
  if (typeof original !== "function") continue;
  window[kind] = function (message) {
    const answer = original.apply(window, arguments);
    push({kind: "dialog", dialog: kind, text: String(message === undefined ? "" : message), answer: kind === "alert" ? true : answer});
    return answer;
  };
}

// A page of its own (not a frame): how it was reached.
if (window === window.top) {
  let how = "navigate";
  try { how = (performance.getEntriesByType("navigation")[0] || {}).type || "navigate"; } catch (e) { /* old browser */ }
  // No referrer: an address typed (or opened by juru), not a link or a form.
  push({kind: "load", how, referrer: doc.referrer || ""});
}
