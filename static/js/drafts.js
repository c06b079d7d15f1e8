// Per-ticket drafts on the dashboard: each ticket keeps its own unsent reply and note, and
// whether the agent was writing a note, in this browser's storage (kept across ticket
// switches and reloads; cleared when sent, and all of this agent's at sign-out). Keys are
// per agent, so that another agent signing in on the same browser never sees them.

const PREFIX = "support-chat:draft:";

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage blocked: drafts live as long as the page
  }
}

export class Drafts {
  constructor(userId) {
    this.prefix = `${PREFIX}${userId}:`;
    this.memory = new Map(); // when storage is blocked or full
  }

  key(ticketId) {
    return `${this.prefix}${ticketId}`;
  }

  /** {reply, note, mode} of a ticket ("reply" mode and empty texts when none). */
  get(ticketId) {
    const empty = { reply: "", note: "", mode: "reply" };
    if (!ticketId) return empty;
    let saved = this.memory.get(ticketId) ?? null;
    const store = storage();
    if (store) {
      try {
        saved = JSON.parse(store.getItem(this.key(ticketId)) ?? "null") ?? saved;
      } catch {
        saved = null;
      }
    }
    if (!saved || typeof saved !== "object") return empty;
    return {
      reply: typeof saved.reply === "string" ? saved.reply : "",
      note: typeof saved.note === "string" ? saved.note : "",
      mode: saved.mode === "note" ? "note" : "reply",
    };
  }

  /** Change part of a ticket's draft: {reply}, {note} or {mode}. */
  set(ticketId, change) {
    if (!ticketId) return;
    const draft = { ...this.get(ticketId), ...change };
    const empty = !draft.reply && !draft.note && draft.mode === "reply";
    this.memory.set(ticketId, draft);
    const store = storage();
    if (!store) return;
    try {
      if (empty) store.removeItem(this.key(ticketId));
      else store.setItem(this.key(ticketId), JSON.stringify(draft));
      this.memory.delete(ticketId);
    } catch {
      // Full: it stays in memory for this page.
    }
  }

  /** Every draft of this agent in this browser goes (sign-out). */
  clearAll() {
    this.memory.clear();
    const store = storage();
    if (!store) return;
    for (const key of Object.keys(store)) {
      if (key.startsWith(this.prefix)) store.removeItem(key);
    }
  }
}
