// Canned replies in the dashboard's reply box: typing "/" (at the start or after a space)
// opens a list filtered by what follows; Up/Down choose, Enter or Tab insert, Escape
// closes. Placeholders ({{guest.name}} ...) are filled in as the reply is inserted, so the
// agent reads the text before sending it.
import { api } from "./chat-core.js";

const MAX_SHOWN = 8;
const TRIGGER = /(^|\s)\/([a-z0-9_-]{0,32})$/;

/** The text with its placeholders filled from the ticket and the agent. */
export function fillPlaceholders(text, { ticket, agent }) {
  const guestName = (ticket?.guest_name ?? "").trim();
  const values = {
    "guest.name": guestName,
    "guest.first_name": guestName.split(/\s+/)[0] ?? "",
    "guest.email": ticket?.guest_email ?? "",
    "agent.name": agent?.name ?? "",
    "agent.first_name": (agent?.name ?? "").trim().split(/\s+/)[0] ?? "",
    "ticket.subject": ticket?.subject ?? "",
  };
  return text.replace(/\{\{\s*([a-z._]+)\s*\}\}/g, (whole, name) => (name in values ? values[name] : whole));
}

export class CannedMenu {
  /**
   * form, input: the composer; menu, list, status: the popup, its listbox and a live
   * region; context(): {ticket, agent} for placeholders; onInsert(): after an insertion.
   */
  constructor({ form, input, menu, list, status, context, onInsert }) {
    this.form = form;
    this.input = input;
    this.menu = menu;
    this.list = list;
    this.status = status;
    this.context = context;
    this.onInsert = onInsert ?? (() => {});
    this.replies = [];
    this.loaded = null;
    this.shown = [];
    this.active = 0;
    this.trigger = null; // {start, end} of "/query" in the text

    input.setAttribute("aria-controls", list.id);
    input.addEventListener("input", () => this.update());
    input.addEventListener("click", () => this.update());
    input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    // Capture on the form: runs before the composer's own Enter-to-send on the textarea.
    form.addEventListener("keydown", (event) => this.onKey(event), true);
    list.addEventListener("mousedown", (event) => event.preventDefault()); // keep the focus
    list.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) this.insert(Number(option.dataset.index));
    });
  }

  /** The replies, fetched once per page (and again after a failure). */
  load() {
    this.loaded ??= api("/api/canned-replies")
      .then((data) => {
        this.replies = data.replies ?? [];
      })
      .catch(() => {
        this.loaded = null;
      });
    return this.loaded;
  }

  get open() {
    return !this.menu.hidden;
  }

  async update() {
    const before = this.input.value.slice(0, this.input.selectionStart ?? this.input.value.length);
    const match = TRIGGER.exec(before);
    if (!match || this.input.disabled) {
      this.close();
      return;
    }
    const query = match[2];
    const start = before.length - query.length - 1;
    await this.load();
    // The text may have moved on while the list loaded.
    const now = this.input.value.slice(0, this.input.selectionStart ?? 0);
    if (!now.endsWith(`/${query}`)) return;
    this.trigger = { start, end: start + 1 + query.length };
    const q = query.toLowerCase();
    this.shown = this.replies
      .filter((reply) => reply.shortcut.startsWith(q) || reply.title.toLowerCase().includes(q))
      .slice(0, MAX_SHOWN);
    this.active = 0;
    this.render(query);
  }

  render(query) {
    this.list.replaceChildren(
      ...this.shown.map((reply, index) => {
        const li = document.createElement("li");
        li.id = `canned-option-${index}`;
        li.className = "canned-menu__option";
        li.setAttribute("role", "option");
        li.dataset.index = String(index);
        const shortcut = document.createElement("span");
        shortcut.className = "canned-menu__shortcut";
        shortcut.textContent = `/${reply.shortcut}`;
        const title = document.createElement("span");
        title.className = "canned-menu__title";
        title.textContent = reply.title;
        li.append(shortcut, title);
        return li;
      }),
    );
    if (!this.shown.length) {
      const li = document.createElement("li");
      li.className = "canned-menu__empty";
      li.textContent = this.replies.length ? `No canned reply matches /${query}` : "No canned replies yet";
      this.list.append(li);
    }
    this.menu.hidden = false;
    this.highlight();
    this.status.textContent = this.shown.length
      ? `${this.shown.length} canned ${this.shown.length === 1 ? "reply" : "replies"}: Up and Down to choose, Enter to insert`
      : "No canned reply matches";
  }

  highlight() {
    for (const option of this.list.querySelectorAll("[role=option]")) {
      const on = Number(option.dataset.index) === this.active;
      option.setAttribute("aria-selected", on ? "true" : "false");
      if (on) option.scrollIntoView({ block: "nearest" });
    }
    if (this.shown.length) this.input.setAttribute("aria-activedescendant", `canned-option-${this.active}`);
    else this.input.removeAttribute("aria-activedescendant");
  }

  close() {
    if (this.menu.hidden) return;
    this.menu.hidden = true;
    this.trigger = null;
    this.input.removeAttribute("aria-activedescendant");
    this.status.textContent = "";
  }

  onKey(event) {
    if (!this.open || event.target !== this.input) return;
    const stop = () => {
      event.preventDefault();
      event.stopPropagation();
    };
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      stop();
      if (!this.shown.length) return;
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = (this.active + step + this.shown.length) % this.shown.length;
      this.highlight();
    } else if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey && this.shown.length) {
      stop();
      this.insert(this.active);
    } else if (event.key === "Escape") {
      stop();
      this.close();
    }
  }

  insert(index) {
    const reply = this.shown[index];
    if (!reply || !this.trigger) return;
    const text = fillPlaceholders(reply.body, this.context());
    const value = this.input.value;
    const { start, end } = this.trigger;
    this.input.value = value.slice(0, start) + text + value.slice(end);
    const caret = start + text.length;
    this.input.setSelectionRange(caret, caret);
    this.close();
    this.input.focus();
    this.input.dispatchEvent(new Event("input", { bubbles: true }));
    this.onInsert(reply);
  }
}
