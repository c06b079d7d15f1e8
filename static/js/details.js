// The guest beside the conversation: e-mail, their local time, the page where the chat
// started, browser and language; their other conversations (same browser or e-mail); and
// the ticket's activity (its audit events). Every value goes in as text.
import { api, formatFull, formatRelative, timeElement } from "./chat-core.js";

const $ = (id) => document.getElementById(id);
const STATUS_LABELS = { open: "Open", pending: "Pending", resolved: "Resolved", closed: "Closed" };
const ACTIONS = {
  "ticket.create": "started the conversation",
  "ticket.close": "closed it",
  "ticket.update": "changed",
  "ticket.escalate": "escalated it",
  "ticket.auto_resolve": "marked it resolved",
  "ticket.auto_assign": "assigned it",
  "note.create": "wrote a note",
};

function text(el, value, fallback = "Not known") {
  el.replaceChildren();
  el.textContent = value || fallback;
  el.classList.toggle("details__unknown", !value);
}

function localTime(timezone) {
  if (!timezone) return null;
  try {
    const time = new Intl.DateTimeFormat(undefined, { timeZone: timezone, hour: "numeric", minute: "2-digit",
      weekday: "short" }).format(new Date());
    return `${time} (${timezone.replaceAll("_", " ")})`;
  } catch {
    return null; // a zone this browser does not know
  }
}

function safeHttpUrl(value) {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

export class Details {
  /** onOpenTicket(id): an earlier conversation was picked; nameOf(id): an agent's name. */
  constructor({ onOpenTicket, nameOf }) {
    this.onOpenTicket = onOpenTicket;
    this.nameOf = nameOf ?? ((id) => id);
    this.ticketId = null;
    this.context = {};
    this.activityCursor = null;
    this.generation = 0;
    setInterval(() => this.renderTime(), 30000);
    $("activity-load").addEventListener("click", () => this.loadActivity());
    $("activity-more").addEventListener("click", () => this.loadActivity({ more: true }));
    $("related").addEventListener("click", (event) => {
      const link = event.target.closest("a[data-ticket-id]");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      this.onOpenTicket(link.dataset.ticketId);
    });
  }

  /** A ticket was opened: `ticket` as the join answer gave it (with its context). */
  show(ticket) {
    const changed = ticket.id !== this.ticketId;
    this.ticketId = ticket.id;
    this.context = ticket.context ?? this.context ?? {};
    this.ticket = ticket;
    this.renderFacts();
    if (changed) {
      this.generation += 1;
      this.activityCursor = null;
      $("activity").replaceChildren();
      $("activity").hidden = true;
      $("activity-more").hidden = true;
      $("activity-load").hidden = false;
      this.loadRelated();
    }
  }

  /** A newer state of the open ticket (no context in those: it does not change). */
  update(ticket) {
    if (ticket.id !== this.ticketId) return;
    this.ticket = ticket;
    this.renderFacts();
  }

  clear() {
    this.ticketId = null;
    this.context = {};
    this.generation += 1;
  }

  renderFacts() {
    const email = $("detail-email");
    email.replaceChildren();
    email.classList.remove("details__unknown");
    if (this.ticket?.guest_email) {
      const link = document.createElement("a");
      link.href = `mailto:${this.ticket.guest_email}`;
      link.textContent = this.ticket.guest_email;
      email.append(link);
    } else {
      text(email, null, "None given");
    }
    this.renderTime();
    const page = $("detail-page");
    page.replaceChildren();
    page.classList.remove("details__unknown");
    const url = safeHttpUrl(this.context.page_url);
    if (url) {
      const link = document.createElement("a");
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      link.textContent = this.context.page_title || url;
      link.title = url;
      page.append(link);
    } else {
      text(page, this.context.page_title);
    }
    text($("detail-browser"), this.context.browser);
    text($("detail-locale"), this.context.locale);
  }

  renderTime() {
    if (!this.ticketId) return;
    text($("detail-time"), localTime(this.context.timezone));
  }

  async loadRelated() {
    const generation = this.generation;
    const status = $("related-status");
    const list = $("related");
    list.replaceChildren();
    status.textContent = "Loading…";
    try {
      const { tickets } = await api(`/api/tickets/${this.ticketId}/related`);
      if (generation !== this.generation) return;
      status.textContent = tickets.length ? "" : "None: this is their first.";
      list.replaceChildren(...tickets.map((ticket) => this.relatedItem(ticket)));
    } catch (error) {
      if (generation === this.generation) status.textContent = `Could not load them. ${error.message}`;
    }
  }

  relatedItem(ticket) {
    const li = document.createElement("li");
    li.className = "details__item";
    const link = document.createElement("a");
    link.href = `/dashboard/tickets/${encodeURIComponent(ticket.id)}`;
    link.dataset.ticketId = ticket.id;
    link.textContent = ticket.subject || "(no subject)";
    const meta = document.createElement("span");
    meta.className = "details__meta";
    const status = document.createElement("span");
    status.className = `badge badge--${ticket.status}`;
    status.textContent = STATUS_LABELS[ticket.status] ?? ticket.status;
    meta.append(status, " ", timeElement(ticket.created_at, formatRelative(ticket.created_at)));
    li.append(link, meta);
    return li;
  }

  async loadActivity({ more = false } = {}) {
    const generation = this.generation;
    const list = $("activity");
    const button = more ? $("activity-more") : $("activity-load");
    button.disabled = true;
    try {
      const query = { limit: 20 };
      if (more && this.activityCursor) query.before = this.activityCursor;
      const page = await api(`/api/tickets/${this.ticketId}/activity`, { query });
      if (generation !== this.generation) return;
      if (!more) list.replaceChildren();
      list.append(...page.events.map((event) => this.activityItem(event)));
      if (!list.children.length) {
        const li = document.createElement("li");
        li.textContent = "Nothing recorded yet.";
        list.append(li);
      }
      list.hidden = false;
      $("activity-load").hidden = true;
      this.activityCursor = page.next_cursor;
      $("activity-more").hidden = !page.next_cursor;
    } catch (error) {
      if (generation === this.generation) {
        const li = document.createElement("li");
        li.textContent = `Could not load the activity. ${error.message}`;
        list.replaceChildren(li);
        list.hidden = false;
      }
    } finally {
      button.disabled = false;
    }
  }

  activityItem(event) {
    const li = document.createElement("li");
    li.className = "activity__item";
    const who = document.createElement("span");
    who.className = "activity__who";
    who.textContent = event.actor?.name || (event.actor?.role === "system" ? "System" : "Someone");
    const what = document.createElement("span");
    what.textContent = ` ${ACTIONS[event.action] ?? event.action}`;
    li.append(who, what);
    const changes = (event.changes ?? []).filter((change) => event.action === "ticket.update" ||
      event.action === "ticket.auto_assign");
    if (changes.length) {
      const list = document.createElement("ul");
      list.className = "activity__changes";
      for (const change of changes) {
        const item = document.createElement("li");
        const shown = (value) => (change.field === "assignee_id" && value ? this.nameOf(value) : describe(value));
        const field = change.field === "assignee_id" ? "assignee" : change.field.replaceAll("_", " ");
        item.textContent = `${field}: ${shown(change.before)} → ${shown(change.after)}`;
        list.append(item);
      }
      li.append(list);
    }
    li.append(timeElement(event.at, formatFull(event.at), "activity__time"));
    return li;
  }
}

function describe(value) {
  if (value === null || value === undefined || value === "") return "none";
  if (Array.isArray(value)) return value.length ? value.join(", ") : "none";
  return String(value);
}
