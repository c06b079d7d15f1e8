// /admin/audit: the filtered audit trail, page by page, with a CSV export of the same view.
import { api, formatFull } from "./chat-core.js";

const $ = (id) => document.getElementById(id);
const form = $("filters");
const tbody = $("events");
const more = $("more");
const errorBox = $("audit-error");
let cursor = null;

function filters() {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(form)) if (value) params.set(key, value);
  return params;
}

function text(value) {
  const span = document.createElement("span");
  span.textContent = value ?? "";
  return span;
}

function show(value) {
  return value === null || value === undefined ? "—" : typeof value === "object" ? JSON.stringify(value) : String(value);
}

function changesList(changes) {
  const ul = document.createElement("ul");
  ul.className = "diff";
  for (const change of changes) {
    const li = document.createElement("li");
    const before = text(show(change.before));
    before.className = "diff__before";
    li.append(text(`${change.field}: `), before, text(" → "), text(show(change.after)));
    ul.append(li);
  }
  return ul;
}

function row(event) {
  const tr = document.createElement("tr");
  const cells = [
    text(formatFull(event.at)),
    text(`${event.actor.name || event.actor.id || "—"} (${event.actor.role})`),
    text(event.action),
    text(event.entity.type ? `${event.entity.type} ${event.entity.id ?? ""}` : "—"),
    changesList(event.changes),
    text([event.ip, event.user_agent].filter(Boolean).join(" · ")),
  ];
  for (const content of cells) {
    const td = document.createElement("td");
    td.append(content);
    tr.append(td);
  }
  return tr;
}

async function load({ append = false } = {}) {
  errorBox.hidden = true;
  const params = filters();
  $("csv-link").href = `/api/audit.csv?${params}`;
  if (append && cursor) params.set("before", cursor);
  try {
    const page = await api("/api/audit", { query: Object.fromEntries(params) });
    const rows = page.events.map(row);
    if (append) tbody.append(...rows);
    else tbody.replaceChildren(...rows);
    cursor = page.next_cursor;
    more.hidden = !cursor;
  } catch (error) {
    errorBox.textContent = error.message;
    errorBox.hidden = false;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
more.addEventListener("click", () => load({ append: true }));
load();
