// The search box of the dashboard's queue: tickets by guest name, e-mail, subject, message
// text and tag (GET /api/search), each with the snippet that matched, the match marked.
// While a search is shown the queue's list and filters step aside; clearing the box (or
// Escape in it) brings them back.
import { api, formatRelative, timeElement } from "./chat-core.js";

const MIN = 2;
const DEBOUNCE_MS = 250;
const FIELD_LABELS = {
  message: "Message", note: "Note", subject: "Subject", guest_name: "Name", guest_email: "E-mail", tag: "Tag",
};
const STATUS_LABELS = { open: "Open", pending: "Pending", resolved: "Resolved", closed: "Closed" };

/** Put `text` in `el` with each place it holds `query` (any case) inside a <mark>. */
function markMatches(el, text, query) {
  el.replaceChildren();
  const needle = query.toLowerCase();
  const haystack = text.toLowerCase();
  let from = 0;
  while (needle) {
    const at = haystack.indexOf(needle, from);
    if (at < 0) break;
    if (at > from) el.append(document.createTextNode(text.slice(from, at)));
    const mark = document.createElement("mark");
    mark.textContent = text.slice(at, at + needle.length);
    el.append(mark);
    from = at + needle.length;
  }
  if (from < text.length) el.append(document.createTextNode(text.slice(from)));
}

export class Search {
  /** onActive(bool): a search is shown, or the queue again; onOpen(id): a result picked. */
  constructor({ form, input, panel, list, more, status, onActive, onOpen, isCurrent }) {
    this.form = form;
    this.input = input;
    this.panel = panel;
    this.list = list;
    this.more = more;
    this.status = status;
    this.onActive = onActive;
    this.onOpen = onOpen;
    this.isCurrent = isCurrent ?? (() => false);
    this.query = "";
    this.cursor = null;
    this.request = 0;
    this.timer = null;

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.run(input.value, { now: true });
    });
    input.addEventListener("input", () => this.run(input.value));
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && input.value) {
        event.preventDefault();
        input.value = "";
        this.run("");
      }
    });
    more.addEventListener("click", () => this.fetch({ more: true }));
    list.addEventListener("click", (event) => {
      const row = event.target.closest("[data-ticket-id]");
      if (row) this.onOpen(row.dataset.ticketId);
    });
  }

  get active() {
    return !this.panel.hidden;
  }

  focus() {
    this.input.focus();
    this.input.select();
  }

  run(value, { now = false } = {}) {
    clearTimeout(this.timer);
    const query = value.trim();
    if (query.length < MIN) {
      this.request += 1;
      this.query = "";
      if (this.active) {
        this.panel.hidden = true;
        this.list.replaceChildren();
        this.onActive(false);
      }
      if (query.length) this.status(`Type at least ${MIN} characters to search.`);
      return;
    }
    if (query === this.query && this.active && !now) return;
    this.timer = setTimeout(() => {
      this.query = query;
      this.fetch();
    }, now ? 0 : DEBOUNCE_MS);
  }

  async fetch({ more = false } = {}) {
    const request = ++this.request;
    const query = this.query;
    if (!more) {
      this.cursor = null;
      if (!this.active) {
        this.panel.hidden = false;
        this.onActive(true);
      }
      this.status("Searching…");
    }
    this.more.disabled = true;
    try {
      const data = await api("/api/search", {
        query: { q: query, limit: 20, ...(more && this.cursor ? { before: this.cursor } : {}) },
      });
      if (request !== this.request) return;
      const rows = (data.results ?? []).map((result) => this.row(result, query));
      if (more) this.list.append(...rows);
      else this.list.replaceChildren(...rows);
      this.cursor = data.next_cursor ?? null;
      this.more.hidden = !this.cursor;
      const count = this.list.children.length;
      this.status(count
        ? `${count}${this.cursor ? "+" : ""} ${count === 1 ? "ticket" : "tickets"} found for “${query}”.`
        : `Nothing found for “${query}”.`);
    } catch (error) {
      if (request === this.request) this.status(`Could not search. ${error.message}`);
    } finally {
      this.more.disabled = false;
    }
  }

  row(result, query) {
    const { ticket } = result;
    const li = document.createElement("li");
    li.className = "queue__item";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "ticket-row ticket-row--result";
    button.dataset.ticketId = ticket.id;
    if (this.isCurrent(ticket.id)) button.setAttribute("aria-current", "true");
    const top = document.createElement("span");
    top.className = "ticket-row__top";
    const name = document.createElement("span");
    name.className = "ticket-row__name";
    name.textContent = ticket.guest_name || "Guest";
    const when = ticket.last_message_at ?? ticket.updated_at;
    const time = document.createElement("span");
    time.className = "ticket-row__time";
    time.append(timeElement(when, formatRelative(when)));
    top.append(name, time);
    const subject = document.createElement("span");
    subject.className = "ticket-row__subject";
    subject.textContent = ticket.subject || "(no subject)";
    const snippet = document.createElement("span");
    snippet.className = "ticket-row__snippet";
    const field = document.createElement("span");
    field.className = "ticket-row__field";
    field.textContent = `${FIELD_LABELS[result.field] ?? result.field}: `;
    const found = document.createElement("span");
    markMatches(found, result.snippet ?? "", query);
    snippet.append(field, found);
    const bottom = document.createElement("span");
    bottom.className = "ticket-row__bottom";
    const status = document.createElement("span");
    status.className = `badge badge--${ticket.status}`;
    status.textContent = STATUS_LABELS[ticket.status] ?? ticket.status;
    bottom.append(snippet, status);
    button.append(top, subject, bottom);
    li.append(button);
    return li;
  }

  /** The open ticket changed: mark its row. */
  markCurrent(ticketId) {
    for (const row of this.list.querySelectorAll("[data-ticket-id]")) {
      if (row.dataset.ticketId === ticketId) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    }
  }
}
