// /admin/audit: the audit trail, filtered by what people know (a person, an action, a ticket,
// a period), newest first, page by page, with new events arriving live on the unfiltered view
// and a CSV export of the view. The filters live in the address, so a view can be shared.
import { api, formatFull, watchConnection } from "./chat-core.js";
import { combobox } from "./combobox.js";
import { topbarSocket } from "./topbar.js";

const $ = (id) => document.getElementById(id);
const form = $("filters");
const tbody = $("events");
const more = $("more");
const errorBox = $("audit-error");
const statusLine = $("events-status");
const newBar = $("new-bar");
const newButton = $("new-button");
const actionSelect = $("f-action");
const periodSelect = $("f-period");
const rangeFields = $("range-fields");
const fromInput = $("f-from");
const toInput = $("f-to");
const clearButton = $("clear-filters");

const LOGIN_URL = "/login?next=%2Fadmin%2Faudit";
const AT_TOP_PX = 120; // closer than this to the top, new events go straight in
const PAGE = 50;

let cursor = null;
let request = 0;
const shown = new Set(); // event ids on the page: a live event never shows twice
const pending = []; // live events held while the admin is scrolled away

// ------------------------------------------------------------------ filters

const person = combobox({
  input: $("f-person"),
  list: $("f-person-list"),
  hint: $("f-person-hint"),
  hidden: $("f-actor"),
  nothing: (text) => `No one matches “${text}”.`,
  async search(text) {
    const { people } = await api("/api/audit/people", { query: { q: text } });
    return people.map((p) => ({ id: p.id, label: p.name, detail: p.email + (p.active ? "" : " · deactivated") }));
  },
  onChange: apply,
});

const ticket = combobox({
  input: $("f-ticket"),
  list: $("f-ticket-list"),
  hint: $("f-ticket-hint"),
  hidden: $("f-entity-id"),
  nothing: (text) => `No ticket’s subject or guest matches “${text}”.`,
  async search(text) {
    const { tickets } = await api("/api/audit/tickets", { query: { q: text } });
    return tickets.map((t) => ({ id: t.id, label: t.subject || "(no subject)", detail: `${t.guest_name} · ${t.status}` }));
  },
  onChange: apply,
});

function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate());
}

/** The period as the API takes it: ISO instants of this browser's days. */
function period() {
  const today = startOfDay(new Date());
  const daysBack = { today: 0, "7d": 6, "30d": 29 }[periodSelect.value];
  if (daysBack !== undefined) {
    const from = new Date(today);
    from.setDate(from.getDate() - daysBack);
    return { from: from.toISOString() };
  }
  if (periodSelect.value !== "range") return {};
  const range = {};
  if (fromInput.value) range.from = new Date(`${fromInput.value}T00:00:00`).toISOString();
  if (toInput.value) {
    const end = new Date(`${toInput.value}T00:00:00`);
    end.setDate(end.getDate() + 1); // the whole of the last day
    range.to = end.toISOString();
  }
  return range;
}

/** What the API is asked for (never stale names: ids only). */
function apiQuery() {
  const query = {};
  if (person.value()) query.actor = person.value();
  if (actionSelect.value) query.action = actionSelect.value;
  if (ticket.value()) Object.assign(query, { entity_type: "ticket", entity_id: ticket.value() });
  return { ...query, ...period() };
}

/** What the address keeps: the choices themselves ("last 7 days", not its dates). */
function addressQuery() {
  const params = new URLSearchParams();
  if (person.value()) params.set("actor", person.value());
  if (actionSelect.value) params.set("action", actionSelect.value);
  if (ticket.value()) params.set("ticket", ticket.value());
  if (periodSelect.value) params.set("period", periodSelect.value);
  if (periodSelect.value === "range") {
    if (fromInput.value) params.set("from", fromInput.value);
    if (toInput.value) params.set("to", toInput.value);
  }
  return params;
}

function filtered() {
  return Object.keys(apiQuery()).length > 0;
}

function apply() {
  const params = addressQuery();
  const search = params.toString();
  history.replaceState(null, "", search ? `?${search}` : window.location.pathname);
  clearButton.hidden = !filtered() && !person.typed() && !ticket.typed();
  load();
}

periodSelect.addEventListener("change", () => {
  rangeFields.hidden = periodSelect.value !== "range";
  apply();
});
for (const input of [actionSelect, fromInput, toInput]) input.addEventListener("change", apply);
form.addEventListener("submit", (event) => event.preventDefault());
clearButton.addEventListener("click", () => {
  person.clear();
  ticket.clear();
  actionSelect.value = "";
  periodSelect.value = "";
  fromInput.value = toInput.value = "";
  rangeFields.hidden = true;
  apply();
  $("f-person").focus();
});

/** The filters of the address (a shared link, the account page's "Activity"). */
async function restore() {
  const params = new URLSearchParams(window.location.search);
  if (params.has("action")) actionSelect.value = params.get("action");
  if (["today", "7d", "30d", "range"].includes(params.get("period"))) periodSelect.value = params.get("period");
  rangeFields.hidden = periodSelect.value !== "range";
  if (periodSelect.value === "range") {
    fromInput.value = params.get("from") ?? "";
    toInput.value = params.get("to") ?? "";
  }
  const actor = params.get("actor");
  const ticketId = params.get("ticket");
  const lookups = [];
  if (actor && /^[0-9a-f]{24}$/.test(actor)) {
    lookups.push(api(`/api/admin/users/${actor}`)
      .then(({ user }) => person.choose({ id: user.id, label: user.name }, { quiet: true }))
      .catch(() => person.choose({ id: actor, label: "Unknown account" }, { quiet: true })));
  }
  if (ticketId && /^[0-9a-f]{24}$/.test(ticketId)) {
    lookups.push(api(`/api/tickets/${ticketId}`)
      .then(({ ticket: t }) => ticket.choose({ id: t.id, label: t.subject || "(no subject)" }, { quiet: true }))
      .catch(() => ticket.choose({ id: ticketId, label: "Unknown ticket" }, { quiet: true })));
  }
  await Promise.all(lookups);
  clearButton.hidden = !filtered();
}

// ------------------------------------------------------------------ rows

const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dayAndTime = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

function when(iso) {
  const date = new Date(iso);
  const el = document.createElement("time");
  el.dateTime = iso;
  el.title = formatFull(iso);
  el.textContent = startOfDay(date).getTime() === startOfDay(new Date()).getTime()
    ? timeOnly.format(date) : dayAndTime.format(date);
  return el;
}

function text(value, className) {
  const span = document.createElement("span");
  if (className) span.className = className;
  span.textContent = value ?? "";
  return span;
}

function linkOrText(label, href, className) {
  if (!href) return text(label, className);
  const a = document.createElement("a");
  a.href = href;
  a.textContent = label;
  if (className) a.className = className;
  return a;
}

function show(value) {
  if (value === null || value === undefined || value === "") return "—";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function changeLine(change) {
  const li = document.createElement("li");
  li.append(text(`${change.field}: `, "diff__field"), text(show(change.before), "diff__before"),
    text(" → ", "diff__arrow"), text(show(change.after), "diff__after"));
  return li;
}

/** The before/after difference: its first line in the row, all of it (and the details the
 *  event carries) on demand. */
function changesCell(event) {
  const meta = Object.entries(event.meta ?? {}).filter(([key]) => key !== "sanitized");
  if (!event.changes.length && !meta.length) return text("—", "muted");
  const details = document.createElement("details");
  details.className = "disclosure-row diff";
  const summary = document.createElement("summary");
  const [first] = event.changes;
  const created = event.changes.every((change) => change.before === null || change.before === undefined);
  // One line: the first change; for something new, its values; without changes, the details.
  let line;
  let extra = 0;
  if (first && created) {
    line = event.changes.map((change) => `${change.field}: ${show(change.after)}`).join(", ");
    extra = meta.length;
  } else if (first) {
    line = `${first.field}: ${show(first.before)} → ${show(first.after)}`;
    extra = event.changes.length - 1 + meta.length;
  } else {
    line = meta.map(([key, value]) => `${key}: ${show(value)}`).join(", ");
  }
  summary.append(text(line, "disclosure-row__text"));
  if (extra > 0) summary.append(text(`+${extra}`, "disclosure-row__more"));
  const list = document.createElement("ul");
  list.className = "diff__list";
  for (const change of event.changes) list.append(changeLine(change));
  for (const [key, value] of meta) {
    const li = document.createElement("li");
    li.append(text(`${key}: `, "diff__field"), text(show(value)));
    list.append(li);
  }
  details.append(summary, list);
  return details;
}

/** Browser and system in a few words; the address and the full user agent on demand. */
function clientCell(event) {
  if (!event.client && !event.ip) return text("—", "muted");
  const details = document.createElement("details");
  details.className = "disclosure-row";
  const summary = document.createElement("summary");
  summary.append(text(event.client || event.ip, "disclosure-row__text"));
  const body = document.createElement("dl");
  body.className = "client-details";
  for (const [term, value] of [["IP address", event.ip], ["User agent", event.user_agent]]) {
    if (!value) continue;
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    body.append(dt, dd);
  }
  details.append(summary, body);
  return details;
}

function cell(label, ...children) {
  const td = document.createElement("td");
  td.dataset.label = label;
  td.append(...children);
  return td;
}

function row(event) {
  const tr = document.createElement("tr");
  tr.dataset.eventId = event.id;
  tr.dataset.action = event.action;
  const action = text(event.action_label);
  action.title = event.action;
  const on = document.createElement("span");
  on.className = "entity";
  if (event.entity_label) {
    const label = linkOrText(event.entity_label, event.entity_href, "entity__label");
    label.title = [event.entity_label, event.entity_detail].filter(Boolean).join(" · ");
    on.append(label);
    if (event.entity_detail) on.append(text(event.entity_detail, "entity__detail"));
  } else {
    on.append(text("—", "muted"));
  }
  tr.append(
    cell("When", when(event.at)),
    cell("Who", linkOrText(event.actor_label, event.actor_href, "who")),
    cell("What", action),
    cell("On", on),
    cell("Changes", changesCell(event)),
    cell("From", clientCell(event)),
  );
  return tr;
}

// ------------------------------------------------------------------ loading

function showError(message) {
  errorBox.textContent = message ?? "";
  errorBox.hidden = !message;
}

function describe(count, more) {
  if (!count) return filtered() ? "No events match these filters." : "No events yet.";
  const shownText = `${count} ${count === 1 ? "event" : "events"}${more ? " shown, newest first" : ""}`;
  return filtered() ? `${shownText}, filtered.` : `${shownText}. New events appear at the top as they happen.`;
}

async function load({ append = false } = {}) {
  const mine = ++request;
  showError(null);
  const query = apiQuery();
  $("csv-link").href = `/api/audit.csv?${new URLSearchParams(query)}`;
  if (append && cursor) query.before = cursor;
  query.limit = PAGE;
  tbody.setAttribute("aria-busy", "true");
  try {
    const page = await api("/api/audit", { query });
    if (mine !== request) return; // a newer view was asked for meanwhile
    if (!append) {
      shown.clear();
      pending.length = 0;
      showNewBar();
    }
    const fresh = page.events.filter((event) => !shown.has(event.id));
    for (const event of fresh) shown.add(event.id);
    const rows = fresh.map(row);
    if (append) tbody.append(...rows);
    else tbody.replaceChildren(...rows);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    statusLine.textContent = describe(tbody.rows.length, Boolean(cursor));
  } catch (error) {
    if (mine !== request) return;
    if (error.status === 401) window.location.assign(LOGIN_URL);
    showError(error.message);
  } finally {
    if (mine === request) tbody.removeAttribute("aria-busy");
  }
}

more.addEventListener("click", () => load({ append: true }));

// ------------------------------------------------------------------ live

function atTop() {
  return window.scrollY < AT_TOP_PX;
}

function showNewBar() {
  newBar.hidden = pending.length === 0;
  newButton.textContent = `${pending.length} new ${pending.length === 1 ? "event" : "events"} — show`;
}

function prepend(events) {
  // Oldest first at the top, so the newest ends first: the order the page has.
  for (const event of [...events].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : 1))) {
    if (shown.has(event.id)) continue;
    shown.add(event.id);
    const tr = row(event);
    tr.classList.add("row--new");
    tbody.prepend(tr);
  }
  statusLine.textContent = describe(tbody.rows.length, Boolean(cursor));
}

function flush() {
  const events = pending.splice(0);
  showNewBar();
  prepend(events);
}

function onLive(event) {
  if (filtered() || shown.has(event?.id)) return; // live events go to the unfiltered view only
  if (atTop() && !pending.length) {
    prepend([event]);
    return;
  }
  pending.push(event);
  showNewBar();
}

newButton.addEventListener("click", () => {
  flush();
  window.scrollTo({ top: 0 });
  tbody.rows[0]?.querySelector("a, summary")?.focus({ preventScroll: true });
});
window.addEventListener("scroll", () => {
  if (pending.length && atTop()) flush();
}, { passive: true });

if (topbarSocket) {
  topbarSocket.on("audit:new", onLive);
  watchConnection(topbarSocket, $("live-banner"), {
    onConnect(first) {
      if (!first && !filtered()) load(); // what happened while away is in the first page
    },
    onRefused() {
      window.location.assign(LOGIN_URL);
    },
  });
}

await restore();
load();
