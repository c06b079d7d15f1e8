// Shared by the widget and the dashboard: HTTP and Socket.IO helpers, message
// rendering, time formatting, and the Conversation controller (join, history,
// catch-up after a reconnect, sending with retries, typing).
//
// Message bodies and every other user-supplied string are put in the page with
// textContent / createTextNode only, never as HTML.

const HISTORY_PAGE = 30;
const CATCH_UP_PAGE = 100;
const ACK_TIMEOUT_MS = 10000;
const TYPING_REFRESH_MS = 3000; // while typing, repeat `typing: true` at most this often
const TYPING_IDLE_MS = 3000; // send `typing: false` after this long without a keystroke
const TYPING_EXPIRE_MS = 8000; // hide someone else's indicator if we hear nothing more
const GROUP_WINDOW_MS = 5 * 60 * 1000;

// ---------------------------------------------------------------- HTTP

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/**
 * fetch() a JSON endpoint of our own API. Resolves to the decoded body; rejects
 * with an ApiError carrying the server's {error: {code, message}} when there is one.
 */
export async function api(path, { method = "GET", body, query } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") {
    headers["Content-Type"] = "application/json";
    headers["X-Requested-With"] = "fetch";
    init.body = JSON.stringify(body ?? {});
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError(0, "network", "We could not reach the server. Check your connection and try again.");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data?.error ?? {};
    const apiError = new ApiError(
      response.status,
      error.code ?? `http_${response.status}`,
      error.message ?? `The request failed (${response.status}).`,
    );
    apiError.field = error.field ?? null;
    throw apiError;
  }
  return data;
}

// ---------------------------------------------------------------- Socket.IO

const SOCKET_MESSAGES = {
  unauthorized: "Your session has ended. Please sign in again.",
  forbidden: "You are not allowed to do that.",
  not_found: "This conversation could not be found.",
  invalid: "That was not accepted.",
  closed: "This conversation has been closed.",
  rate_limited: "You are sending messages too quickly. Please wait a moment.",
  internal: "Something went wrong on our side. Please try again.",
  disconnected: "You are offline right now.",
  timeout: "The server did not answer in time.",
};

export class ChatError extends Error {
  constructor(code, message) {
    super(message || SOCKET_MESSAGES[code] || SOCKET_MESSAGES.internal);
    this.name = "ChatError";
    this.code = code;
  }
}

/**
 * Open the page's one Socket.IO connection (same origin; the cookie authenticates).
 * `auth` goes with the handshake: the widget sends {as: "guest"} so that a browser that
 * also holds an agent session still chats as the guest.
 */
export function connectSocket({ auth } = {}) {
  if (typeof window.io !== "function") throw new Error("The Socket.IO client did not load.");
  return window.io({
    ...(auth ? { auth } : {}),
    transports: ["websocket"],
    withCredentials: true,
    forceNew: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
    // A connection attempt that opens but never completes the handshake only fails
    // after this long (Socket.IO's default is 20 s).
    timeout: 10000,
  });
}

/**
 * Emit an event with an acknowledgement and resolve to the server's answer when it
 * is {ok: true, ...}. Rejects with a ChatError: the server's code, or "disconnected"
 * / "timeout" when no answer came.
 */
export async function ask(socket, event, payload, timeoutMs = ACK_TIMEOUT_MS) {
  if (!socket.connected) throw new ChatError("disconnected");
  let answer;
  try {
    answer = await socket.timeout(timeoutMs).emitWithAck(event, payload);
  } catch {
    throw new ChatError(socket.connected ? "timeout" : "disconnected");
  }
  if (answer && answer.ok === true) return answer;
  const error = answer?.error ?? {};
  throw new ChatError(error.code || "internal", error.message);
}

/**
 * Show the connection banner while the socket is away and report (re)connections.
 *   onConnect(isFirst): after every successful handshake
 *   onRefused(err): the server refused the handshake (no or bad cookie); Socket.IO
 *                   does not retry that by itself.
 */
export function watchConnection(socket, banner, { onConnect, onRefused } = {}) {
  let connectedOnce = false;
  let kicks = 0;
  // A hook for styles and tests: <html data-connection="connecting|connected|reconnecting|refused">
  const state = (value) => {
    document.documentElement.dataset.connection = value;
  };
  const show = (text) => {
    banner.textContent = text;
    banner.hidden = false;
  };
  state("connecting");
  socket.on("connect", () => {
    state("connected");
    banner.hidden = true;
    const first = !connectedOnce;
    connectedOnce = true;
    onConnect?.(first);
  });
  socket.on("disconnect", (reason) => {
    if (reason === "io client disconnect") return;
    state("reconnecting");
    show("Reconnecting…");
    if (reason === "io server disconnect") {
      // The server closed this socket; Socket.IO will not reconnect on its own. Try
      // again (with a growing delay): the handshake decides whether we may.
      kicks += 1;
      setTimeout(() => socket.connect(), Math.min(1000 * kicks, 15000));
    }
  });
  socket.on("connect_error", (err) => {
    if (!socket.active) {
      state("refused");
      banner.hidden = true;
      onRefused?.(err);
    } else {
      show(connectedOnce ? "Reconnecting…" : "Connecting…");
    }
  });
}

export function newClientMsgId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // crypto.randomUUID only exists in secure contexts; build the same v4 UUID by hand.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// ---------------------------------------------------------------- time

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const weekdayFormat = new Intl.DateTimeFormat(undefined, { weekday: "short" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function toDate(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** "14:05" today, "12 Mar, 14:05" on other days. */
export function formatMessageTime(iso) {
  const date = toDate(iso);
  if (!date) return "";
  if (sameDay(date, new Date())) return timeFormat.format(date);
  return `${dayFormat.format(date)}, ${timeFormat.format(date)}`;
}

/** Short and relative, for lists: "now", "5 min", "14:05", "Mon", "12 Mar". */
export function formatRelative(iso, now = new Date()) {
  const date = toDate(iso);
  if (!date) return "";
  const seconds = (now - date) / 1000;
  if (seconds < 60) return "now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (sameDay(date, now)) return timeFormat.format(date);
  if (seconds < 6 * 86400) return weekdayFormat.format(date);
  return dayFormat.format(date);
}

export function formatFull(iso) {
  const date = toDate(iso);
  return date ? fullFormat.format(date) : "";
}

/** A <time> element showing `text`, with the full date as its tooltip. */
export function timeElement(iso, text, className) {
  const el = document.createElement("time");
  if (className) el.className = className;
  el.dateTime = iso ?? "";
  el.title = formatFull(iso);
  el.textContent = text;
  return el;
}

// ---------------------------------------------------------------- messages

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]}]/g;

/** Fill `el` with `text`, turning http(s) URLs into links; no HTML is ever parsed. */
export function setLinkifiedText(el, text) {
  el.replaceChildren();
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    if (match.index > last) el.append(document.createTextNode(text.slice(last, match.index)));
    const a = document.createElement("a");
    a.href = match[0];
    a.textContent = match[0];
    a.target = "_blank";
    a.rel = "noopener noreferrer nofollow";
    el.append(a);
    last = match.index + match[0].length;
  }
  if (last < text.length) el.append(document.createTextNode(text.slice(last)));
}

function isMine(message, viewer) {
  if (message.kind === "system") return false;
  return viewer === "guest" ? message.sender_role === "guest" : message.sender_role !== "guest";
}

/**
 * Build the <li> for one message. `viewer` is "guest" or "agent": it decides which
 * side is "mine". Body text goes in through text nodes only.
 */
export function renderMessage(message, viewer) {
  const li = document.createElement("li");
  li.classList.add("msg");
  fillMessage(li, message, viewer);
  return li;
}

function fillMessage(li, message, viewer) {
  const kind = message.kind || "message";
  const role = message.sender_role || "system";
  li.dataset.id = message.id;
  li.dataset.kind = kind;
  li.dataset.role = role;
  li.dataset.sender = message.sender_name ?? "";
  li.dataset.createdAt = message.created_at ?? "";
  if (message.client_msg_id) li.dataset.clientMsgId = message.client_msg_id;
  li.classList.remove("msg--pending", "msg--failed");
  delete li.dataset.state;
  li.classList.toggle("msg--system", kind === "system");
  li.classList.toggle("msg--note", kind === "note");
  li.classList.toggle("msg--mine", isMine(message, viewer));
  li.classList.toggle("msg--theirs", kind !== "system" && !isMine(message, viewer));

  if (kind === "system") {
    const p = document.createElement("p");
    p.className = "msg__system";
    const text = document.createElement("span");
    text.textContent = message.body ?? "";
    p.append(text, " · ", timeElement(message.created_at, formatMessageTime(message.created_at), "msg__time"));
    li.replaceChildren(p);
    return;
  }

  const meta = document.createElement("div");
  meta.className = "msg__meta";
  const sender = document.createElement("span");
  sender.className = "msg__sender";
  sender.textContent = viewer === "guest" && role === "guest" ? "You" : message.sender_name || (role === "guest" ? "Guest" : "Support");
  meta.append(sender);
  if (kind === "note") {
    const tag = document.createElement("span");
    tag.className = "msg__tag";
    tag.textContent = "Internal note";
    meta.append(tag);
  }
  meta.append(timeElement(message.created_at, formatMessageTime(message.created_at), "msg__time"));

  const bubble = document.createElement("div");
  bubble.className = "msg__bubble";
  setLinkifiedText(bubble, message.body ?? "");

  const status = document.createElement("div");
  status.className = "msg__status";
  status.hidden = true;

  li.replaceChildren(meta, bubble, status);
}

/** Order of two messages as the server orders them: created_at, then id. */
function compareMessages(a, b) {
  const ta = Date.parse(a.created_at);
  const tb = Date.parse(b.created_at);
  if (ta !== tb && !Number.isNaN(ta) && !Number.isNaN(tb)) return ta - tb;
  if (a.created_at !== b.created_at) return a.created_at < b.created_at ? -1 : 1;
  if (a.id === b.id) return 0;
  return a.id < b.id ? -1 : 1;
}

/** Mark messages that continue the previous one (same sender, shortly after). */
function regroup(list) {
  let prev = null;
  for (const li of list.children) {
    let grouped = false;
    if (prev && li.dataset.kind !== "system" && prev.dataset.kind === li.dataset.kind) {
      const sameSender = prev.dataset.role === li.dataset.role && prev.dataset.sender === li.dataset.sender;
      const gap = Date.parse(li.dataset.createdAt) - Date.parse(prev.dataset.createdAt);
      grouped = sameSender && gap >= 0 && gap < GROUP_WINDOW_MS;
    }
    li.classList.toggle("msg--grouped", grouped);
    prev = li;
  }
}

// ---------------------------------------------------------------- composer

/**
 * Wire a composer form: Enter sends, Shift+Enter makes a new line, typing is reported.
 * Returns {setEnabled(bool), focus(), clear()}.
 */
export function bindComposer({ form, input, button, onSend, onInput }) {
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.isComposing || event.keyCode === 229) return; // an IME is composing
    event.preventDefault();
    form.requestSubmit();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.disabled) return;
    const body = input.value.trim();
    if (!body) return;
    input.value = "";
    onSend(body);
  });
  input.addEventListener("input", () => onInput?.(input.value));
  return {
    setEnabled(enabled) {
      input.disabled = !enabled;
      button.disabled = !enabled;
    },
    focus() {
      input.focus();
    },
  };
}

// ---------------------------------------------------------------- conversation

/**
 * One open conversation in a page: keeps the message list in order and without
 * duplicates, loads older pages on scroll-up, catches up after a reconnect, and
 * sends messages with a client_msg_id that is reused on every retry.
 *
 * Events from the socket are passed in by the page: receive(message),
 * updateTicket(ticket), receiveTyping(event).
 */
export class Conversation {
  constructor({ socket, list, scroller, olderButton, typingIndicator, viewer, selfName, onTicket, onError }) {
    this.socket = socket;
    this.list = list;
    this.scroller = scroller;
    this.olderButton = olderButton;
    this.typingIndicator = typingIndicator;
    this.viewer = viewer;
    this.selfName = selfName ?? "";
    this.onTicket = onTicket ?? (() => {});
    this.onError = onError ?? (() => {});

    this.generation = 0;
    this.ticketId = null;
    this.ticket = null;
    this.reset();

    this.scroller.addEventListener(
      "scroll",
      () => {
        if (this.scroller.scrollTop < 80) this.loadOlder();
      },
      { passive: true },
    );
    this.olderButton?.addEventListener("click", () => this.loadOlder());
  }

  reset() {
    this.elements = new Map(); // message id -> <li>
    this.pending = new Map(); // client_msg_id -> {clientMsgId, body, el, state}
    this.newest = null; // the newest message held (its cursor is where catch-up starts)
    this.olderCursor = null;
    this.loadingOlder = false;
    this.liveBuffer = null; // messages that arrive while a join / catch-up is running
    this.typers = new Map(); // name -> timer
    this.stopTyping();
    this.list.replaceChildren();
    this.renderTyping();
    this.updateOlderButton();
  }

  get closed() {
    return this.ticket?.status === "closed";
  }

  /** Join a ticket (leaving the one open before) and show its newest page. */
  async open(ticketId) {
    const previous = this.ticketId;
    const generation = ++this.generation;
    this.stopTyping();
    if (previous && previous !== ticketId) this.leaveQuietly(previous);
    this.ticketId = ticketId;
    this.ticket = null;
    this.reset();
    this.liveBuffer = [];
    let answer;
    try {
      answer = await ask(this.socket, "ticket:join", { ticket_id: ticketId });
    } catch (error) {
      if (generation === this.generation) this.liveBuffer = null;
      throw error;
    }
    if (generation !== this.generation) {
      if (this.ticketId !== ticketId) this.leaveQuietly(ticketId);
      return null;
    }
    this.olderCursor = answer.next_cursor ?? null;
    this.insert(answer.messages ?? [], "append", { bulk: true });
    this.flushLive();
    this.updateTicket(answer.ticket);
    this.scrollToBottom();
    this.fillViewport();
    return answer.ticket;
  }

  /** Leave the open ticket, if any, and empty the list. */
  close() {
    const ticketId = this.ticketId;
    this.generation += 1;
    this.stopTyping();
    this.ticketId = null;
    this.ticket = null;
    this.reset();
    if (ticketId) this.leaveQuietly(ticketId);
  }

  leaveQuietly(ticketId) {
    if (this.socket.connected) ask(this.socket, "ticket:leave", { ticket_id: ticketId }).catch(() => {});
  }

  /**
   * After a reconnect: join the room again, fetch everything after the newest message
   * held (page by page while has_more), then resend what did not get through.
   */
  async resume() {
    const ticketId = this.ticketId;
    if (!ticketId) return;
    const generation = this.generation;
    const stale = () => generation !== this.generation || !this.socket.connected;
    this.liveBuffer = [];
    try {
      const answer = await ask(this.socket, "ticket:join", { ticket_id: ticketId });
      if (stale()) return;
      if (!this.newest) {
        this.olderCursor = answer.next_cursor ?? null;
        this.insert(answer.messages ?? [], "append", { bulk: true });
      } else {
        let after = this.newest.cursor;
        for (;;) {
          const page = await ask(this.socket, "messages:history", {
            ticket_id: ticketId,
            after,
            limit: CATCH_UP_PAGE,
          });
          if (stale()) return;
          const messages = page.messages ?? [];
          this.insert(messages, "append", { bulk: true });
          const next = page.next_cursor ?? messages.at(-1)?.cursor;
          if (!page.has_more || !next || next === after) break;
          after = next;
        }
      }
      this.flushLive();
      this.updateTicket(answer.ticket);
      this.fillViewport();
      await this.resendPending();
    } catch (error) {
      if (generation !== this.generation) return;
      // Keep buffering nothing: what arrived live will be fetched by the next catch-up,
      // which starts from the newest message actually in the list (so no gap is hidden).
      this.liveBuffer = null;
      if (error.code === "disconnected") return; // the next "connect" resumes again
      if (error.code === "timeout" || error.code === "internal") {
        setTimeout(() => {
          if (generation === this.generation && this.socket.connected) this.resume();
        }, 2000);
        return;
      }
      this.onError(error);
    }
  }

  /** A `message:new` from the socket. */
  receive(message) {
    if (!message || message.ticket_id !== this.ticketId) return;
    if (this.liveBuffer) {
      this.liveBuffer.push(message);
      return;
    }
    const stick = this.isNearBottom();
    this.insert([message], "append");
    this.clearTyper(message.sender_name);
    if (stick) this.scrollToBottom();
  }

  flushLive() {
    const buffered = this.liveBuffer ?? [];
    this.liveBuffer = null;
    if (buffered.length) this.insert(buffered, "append");
  }

  /** A `ticket:updated` from the socket (or a ticket from an answer). */
  updateTicket(ticket) {
    if (!ticket || ticket.id !== this.ticketId) return;
    this.ticket = ticket;
    if (this.closed) {
      // Nobody types in a closed conversation (and the server refuses `typing` there,
      // so a last `typing: false` may never come).
      this.stopTyping();
      for (const name of [...this.typers.keys()]) this.clearTyper(name);
    }
    this.onTicket(ticket);
  }

  /** Put messages in the list, skipping those already there; reconcile our pending ones. */
  insert(messages, where, { bulk = false } = {}) {
    const fresh = [];
    for (const message of messages) {
      if (!message || message.ticket_id !== this.ticketId || !message.id) continue;
      if (this.elements.has(message.id)) continue;
      const mine = message.client_msg_id && this.pending.get(message.client_msg_id);
      if (mine) {
        this.confirm(mine, message);
        continue;
      }
      const li = renderMessage(message, this.viewer);
      this.elements.set(message.id, li);
      fresh.push(li);
      this.track(message);
    }
    if (!fresh.length) return;
    if (bulk) this.list.setAttribute("aria-busy", "true");
    if (where === "prepend") {
      this.list.prepend(...fresh);
    } else {
      // Our own unconfirmed messages stay at the bottom.
      const firstPending = this.list.querySelector(".msg--pending, .msg--failed");
      for (const li of fresh) this.list.insertBefore(li, firstPending);
    }
    regroup(this.list);
    if (bulk) requestAnimationFrame(() => this.list.removeAttribute("aria-busy"));
  }

  track(message) {
    if (!message.cursor) return;
    if (!this.newest || compareMessages(message, this.newest) > 0) this.newest = message;
  }

  // ------------------------------------------------------------ sending

  /** Send a message; it shows at once and is confirmed (or marked) when the server answers. */
  async send(body) {
    if (!this.ticketId) return;
    this.stopTyping();
    const entry = { clientMsgId: newClientMsgId(), body, ticketId: this.ticketId, el: null, state: "sending" };
    entry.el = renderMessage(
      {
        id: "",
        ticket_id: this.ticketId,
        kind: "message",
        sender_role: this.viewer === "guest" ? "guest" : "agent",
        sender_name: this.selfName,
        body,
        client_msg_id: entry.clientMsgId,
        created_at: new Date().toISOString(),
      },
      this.viewer,
    );
    delete entry.el.dataset.id;
    this.pending.set(entry.clientMsgId, entry);
    this.list.append(entry.el);
    regroup(this.list);
    this.scrollToBottom();
    await this.deliver(entry);
  }

  async deliver(entry) {
    if (!this.socket.connected) {
      this.markPending(entry, "waiting");
      return;
    }
    this.markPending(entry, "sending");
    const generation = this.generation;
    try {
      const { message } = await ask(this.socket, "message:send", {
        ticket_id: entry.ticketId,
        body: entry.body,
        client_msg_id: entry.clientMsgId,
      });
      if (generation === this.generation && this.pending.get(entry.clientMsgId) === entry) {
        this.confirm(entry, message);
      }
    } catch (error) {
      if (generation !== this.generation || this.pending.get(entry.clientMsgId) !== entry) return;
      if (error.code === "disconnected") {
        this.markPending(entry, "waiting"); // resent with the same client_msg_id on reconnect
        return;
      }
      this.markPending(entry, "failed", error);
      if (error.code === "closed" && this.ticket) this.updateTicket({ ...this.ticket, status: "closed" });
    }
  }

  async resendPending() {
    for (const entry of [...this.pending.values()]) {
      if (entry.state === "waiting" || entry.state === "sending") await this.deliver(entry);
    }
  }

  confirm(entry, message) {
    this.pending.delete(entry.clientMsgId);
    if (!message?.id || this.elements.has(message.id)) {
      entry.el.remove();
    } else {
      fillMessage(entry.el, message, this.viewer);
      this.elements.set(message.id, entry.el);
      this.track(message);
    }
    regroup(this.list);
  }

  markPending(entry, state, error) {
    entry.state = state;
    const li = entry.el;
    li.classList.toggle("msg--pending", state !== "failed");
    li.classList.toggle("msg--failed", state === "failed");
    li.dataset.state = state;
    const status = li.querySelector(".msg__status");
    status.replaceChildren();
    status.hidden = state === "sending";
    if (state === "waiting") {
      status.textContent = "Waiting for the connection…";
    } else if (state === "failed") {
      const text = document.createElement("span");
      text.textContent = `Not sent: ${error?.message ?? "unknown error"}`;
      status.append(text);
      if (error?.code !== "closed") {
        const retry = document.createElement("button");
        retry.type = "button";
        retry.className = "link-button";
        retry.textContent = "Retry";
        retry.addEventListener("click", () => this.deliver(entry));
        status.append(" ", retry);
      }
    }
  }

  // ------------------------------------------------------------ older pages

  async loadOlder() {
    if (!this.olderCursor || this.loadingOlder || !this.ticketId || this.liveBuffer) return;
    if (!this.socket.connected) return;
    const generation = this.generation;
    this.loadingOlder = true;
    this.updateOlderButton();
    try {
      const page = await ask(this.socket, "messages:history", {
        ticket_id: this.ticketId,
        before: this.olderCursor,
        limit: HISTORY_PAGE,
      });
      if (generation !== this.generation) return;
      const previousHeight = this.scroller.scrollHeight;
      const previousTop = this.scroller.scrollTop;
      this.insert(page.messages ?? [], "prepend", { bulk: true });
      this.olderCursor = page.next_cursor ?? null;
      // Settle the "load earlier" button first: its height is part of what moves.
      this.loadingOlder = false;
      this.updateOlderButton();
      // Keep what the reader was looking at in place.
      this.scroller.scrollTop = previousTop + (this.scroller.scrollHeight - previousHeight);
    } catch {
      // Nothing to do: scrolling up (or the button) tries again.
    } finally {
      if (generation === this.generation) {
        this.loadingOlder = false;
        this.updateOlderButton();
      }
    }
    if (generation === this.generation) this.fillViewport();
  }

  /** Load older pages until the list overflows its box (or there is nothing older). */
  fillViewport() {
    requestAnimationFrame(() => {
      if (this.olderCursor && this.scroller.scrollHeight <= this.scroller.clientHeight + 4) this.loadOlder();
    });
  }

  updateOlderButton() {
    if (!this.olderButton) return;
    this.olderButton.hidden = !this.olderCursor;
    this.olderButton.disabled = this.loadingOlder;
    this.olderButton.textContent = this.loadingOlder ? "Loading…" : "Load earlier messages";
  }

  isNearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  // ------------------------------------------------------------ typing

  /** Call on every keystroke in the composer. */
  noteTyping(value) {
    if (!this.ticketId || this.closed) return;
    if (!value.trim()) {
      this.stopTyping();
      return;
    }
    const now = Date.now();
    if (!this.typingSince || now - this.typingSentAt > TYPING_REFRESH_MS) {
      this.typingSince = this.typingSince || now;
      this.typingSentAt = now;
      this.emitTyping(true);
    }
    clearTimeout(this.typingIdle);
    this.typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.typingIdle);
    if (this.typingSince) {
      this.typingSince = 0;
      this.typingSentAt = 0;
      this.emitTyping(false);
    }
  }

  emitTyping(typing) {
    if (!this.ticketId || !this.socket.connected) return;
    ask(this.socket, "typing", { ticket_id: this.ticketId, typing }).catch(() => {});
  }

  /** A `typing` event from someone else. */
  receiveTyping(event) {
    if (!event || event.ticket_id !== this.ticketId) return;
    if (this.viewer === "guest" && event.role === "guest") return;
    // The same agent typing in another tab.
    if (this.viewer === "agent" && event.role === "agent" && event.name && event.name === this.selfName) return;
    const name = event.name || (event.role === "guest" ? "The guest" : "Support");
    clearTimeout(this.typers.get(name));
    if (event.typing) {
      this.typers.set(name, setTimeout(() => this.clearTyper(name), TYPING_EXPIRE_MS));
    } else {
      this.typers.delete(name);
    }
    this.renderTyping();
  }

  clearTyper(name) {
    if (!this.typers.has(name)) return;
    clearTimeout(this.typers.get(name));
    this.typers.delete(name);
    this.renderTyping();
  }

  renderTyping() {
    const el = this.typingIndicator;
    if (!el) return;
    const names = [...this.typers.keys()];
    if (!names.length) {
      el.hidden = true;
      el.textContent = "";
      return;
    }
    const who = names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
    el.textContent = `${who} ${names.length === 1 ? "is" : "are"} typing…`;
    el.hidden = false;
  }
}

/** A redirect target from the server that stays on this site ("/x", never "//x"). */
export function safeNext(value, fallback = "/dashboard") {
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//") || value.includes("\\")) {
    return fallback;
  }
  return value;
}
