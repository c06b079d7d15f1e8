// Shared by the widget and the dashboard: HTTP and Socket.IO helpers, message
// rendering, time formatting, and the Conversation controller (join, history,
// catch-up after a reconnect, sending with retries, typing).
//
// Message bodies and every other user-supplied string are put in the page with
// textContent / createTextNode only, never as HTML.

const HISTORY_PAGE = 30;
const CATCH_UP_PAGE = 100;
const ACK_TIMEOUT_MS = 10000;
// A send with no answer in time may still be stored: ask again (same client_msg_id) this
// many times before showing it as not sent.
const SEND_ATTEMPTS = 3;
const TYPING_REFRESH_MS = 3000; // while typing, repeat `typing: true` at most this often
const TYPING_IDLE_MS = 3000; // send `typing: false` after this long without a keystroke
const TYPING_EXPIRE_MS = 8000; // hide someone else's indicator if we hear nothing more
const GROUP_WINDOW_MS = 5 * 60 * 1000;
// Catch-up by number (design.md, "Ordering and catch-up"):
const GAP_GRACE_MS = 250; // a missing number often arrives a moment later (a broadcast crossing an answer)
const HOLE_WAIT_MS = 3000; // missing this long, and not in a history answer: it never will come
const MAX_TRACKED_HOLES = 1000; // numbers watched above the watermark at once (a bad number cannot stall the page)

import { attachmentElement } from "./attachments.js";

// ---------------------------------------------------------------- words

// What this module shows, in English; a page in another language passes its own (the
// widget's catalogue: static/js/i18n/). Keys absent there stay English.
const STRINGS = {
  network: "We could not reach the server. Check your connection and try again.",
  reconnecting: "Reconnecting…",
  connecting: "Connecting…",
  you: "You",
  guest: "Guest",
  theGuest: "The guest",
  support: "Support",
  internalNote: "Internal note",
  waiting: "Waiting for the connection…",
  notSent: "Not sent:",
  unknownError: "unknown error",
  retry: "Retry",
  loadOlder: "Load earlier messages",
  loading: "Loading…",
  isTyping: "{who} is typing…",
  areTyping: "{who} are typing…",
  and: "and",
  uploading: "Uploading {name}… {percent}%",
};

/** Use these words instead of the English ones (any subset of STRINGS, and SOCKET_MESSAGES). */
export function setStrings(table = {}) {
  for (const [key, value] of Object.entries(table)) {
    if (typeof value !== "string") continue;
    if (key in STRINGS) STRINGS[key] = value;
    if (key.startsWith("error.") && key.slice(6) in SOCKET_MESSAGES) SOCKET_MESSAGES[key.slice(6)] = value;
  }
}

function say(key, vars = {}) {
  return STRINGS[key].replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

// Headers every API request sends (the widget's guest token where its cookie is blocked).
const extraHeaders = {};

/**
 * POST a file to a conversation with XMLHttpRequest (fetch() reports no upload progress).
 * Resolves to the server's answer ({message}); rejects with an ApiError.
 */
export function uploadFile({ ticketId, file, clientMsgId, onProgress }) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("client_msg_id", clientMsgId);
    form.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/tickets/${encodeURIComponent(ticketId)}/attachments`);
    xhr.responseType = "json";
    xhr.setRequestHeader("X-Requested-With", "fetch");
    xhr.setRequestHeader("Accept", "application/json");
    for (const [name, value] of Object.entries(extraHeaders)) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress?.(Math.round((event.loaded / event.total) * 100));
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300 && xhr.response?.message) return resolve(xhr.response);
      const error = xhr.response?.error ?? {};
      reject(new ApiError(xhr.status, error.code ?? `http_${xhr.status}`, error.message ?? `The upload failed (${xhr.status}).`));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "network", say("network"))));
    xhr.send(form);
  });
}

export function setRequestHeaders(headers) {
  for (const [name, value] of Object.entries(headers)) {
    if (value) extraHeaders[name] = value;
    else delete extraHeaders[name];
  }
}

export function requestHeaders() {
  return { ...extraHeaders };
}

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
  const headers = { Accept: "application/json", ...extraHeaders };
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
    throw new ApiError(0, "network", say("network"));
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
    show(say("reconnecting"));
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
      show(say(connectedOnce ? "reconnecting" : "connecting"));
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

const relativeTime = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const RELATIVE_STEPS = [[60, "second"], [60, "minute"], [24, "hour"], [7, "day"], [4.35, "week"], [12, "month"],
  [Infinity, "year"]];

/** "just now", "5 minutes ago", "yesterday", "last month": how long ago, in words. */
export function ago(iso) {
  let amount = (new Date(iso) - Date.now()) / 1000;
  if (Math.abs(amount) < 45) return "just now";
  for (const [size, unit] of RELATIVE_STEPS) {
    if (Math.abs(amount) < size) return relativeTime.format(Math.round(amount), unit);
    amount /= size;
  }
  return formatFull(iso);
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
  // The list is kept in this order; our own unsent messages have no number yet.
  const seq = seqOf(message);
  if (seq === null) delete li.dataset.seq;
  else li.dataset.seq = String(seq);
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
  sender.textContent =
    viewer === "guest" && role === "guest" ? say("you") : message.sender_name || say(role === "guest" ? "guest" : "support");
  meta.append(sender);
  if (kind === "note") {
    const tag = document.createElement("span");
    tag.className = "msg__tag";
    tag.textContent = say("internalNote");
    meta.append(tag);
  }
  meta.append(timeElement(message.created_at, formatMessageTime(message.created_at), "msg__time"));

  const bubble = document.createElement("div");
  bubble.className = "msg__bubble";
  if (message.attachment) bubble.append(attachmentElement(message.attachment));
  else setLinkifiedText(bubble, message.body ?? "");

  const status = document.createElement("div");
  status.className = "msg__status";
  status.hidden = true;

  li.replaceChildren(meta, bubble, status);
}

/** A message's number in what this viewer may read, or null when it has none. */
function seqOf(message) {
  const seq = message?.seq;
  return Number.isSafeInteger(seq) && seq > 0 ? seq : null;
}

/**
 * The row a message numbered `seq` goes before: the first with a higher number, or our
 * first unconfirmed message (those have no number and stay at the bottom). Binary search:
 * the rows are always in order.
 */
function rowAfter(list, seq) {
  const rows = list.children;
  let low = 0;
  let high = rows.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    const number = rows[middle].dataset.seq ? Number(rows[middle].dataset.seq) : Infinity;
    if (number < seq) low = middle + 1;
    else high = middle;
  }
  return rows[low] ?? null;
}

/**
 * Whether `ticket` is an older state than `held` (both as the server sent them). Every
 * change raises a ticket's `version`, and states can arrive out of order: an older one is
 * dropped. A state without a version is never called older.
 */
export function isOlderTicket(ticket, held) {
  return (
    Boolean(held) &&
    Number.isSafeInteger(ticket?.version) &&
    Number.isSafeInteger(held.version) &&
    ticket.version < held.version
  );
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
 * Wire a composer form: Enter (or Ctrl/Cmd+Enter) sends, Shift+Enter makes a new line,
 * typing is reported. Returns {setEnabled(bool), focus()}.
 */
export function bindComposer({ form, input, button, onSend, onInput }) {
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.altKey) return;
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
 * One open conversation in a page: keeps the message list in the server's order (by
 * `seq`) and without duplicates, loads older pages on scroll-up, catches up by number
 * after a reconnect or a gap, and sends messages with a client_msg_id that is reused on
 * every retry.
 *
 * Catch-up (design.md, "Ordering and catch-up"): every message carries `seq`, its number
 * in what this viewer may read. The watermark is the highest number up to which we hold
 * everything (or know the rest never will come); catch-up asks `messages:history` for the
 * numbers after it. Numbers can arrive out of order (a message that committed late) or
 * never (a send whose insert failed took its number): a number missing below one we hold
 * is a hole. We ask about it once it has stayed missing for a moment; an answer that has
 * later numbers but not the hole means "not there yet", and only a hole still missing
 * HOLE_WAIT_MS after it was first seen is skipped for good.
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
    this.typingNote = false;
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
    clearTimeout(this.holeTimer);
    this.holeTimer = null;
    this.elements = new Map(); // message id -> <li>
    this.pending = new Map(); // client_msg_id -> {clientMsgId, body, el, state}
    this.started = false; // the first page is in (until then the watermark means nothing)
    this.liveBuffer = []; // messages that arrive before the first page, placed with it
    this.watermark = 0; // everything numbered up to here is held (or will never come)
    this.top = 0; // the highest number held
    this.held = new Set(); // numbers held above the watermark
    this.holes = new Map(); // number missing above the watermark -> {since, askAt, confirmed}
    this.round = null; // the catch-up running, if any (one at a time)
    this.oldest = null; // the lowest number held: the older page is asked `before` it
    this.moreOlder = false;
    this.loadingOlder = false;
    this.typers = new Map(); // name -> timer
    this.stopTyping();
    this.list.replaceChildren();
    // A hook for tests: the watermark as it moves.
    delete this.list.dataset.watermark;
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
    // On failure the live messages stay buffered: resume() joins again and places them.
    const answer = await ask(this.socket, "ticket:join", { ticket_id: ticketId });
    if (generation !== this.generation) {
      if (this.ticketId !== ticketId) this.leaveQuietly(ticketId);
      return null;
    }
    this.lastJoin = answer; // the page may read more of it (an agent's: who else is here)
    this.start(answer);
    this.updateTicket(answer.ticket);
    this.scrollToBottom();
    this.fillViewport();
    return answer.ticket;
  }

  /**
   * Take the newest page from a join answer. The watermark starts just below it (what is
   * older comes page by page with `before`) and moves up through what it holds.
   */
  start(answer) {
    const messages = answer.messages ?? [];
    const numbers = messages.map(seqOf).filter((seq) => seq !== null);
    this.watermark = numbers.length ? Math.min(...numbers) - 1 : 0;
    for (const seq of this.held) if (seq <= this.watermark) this.held.delete(seq);
    this.moreOlder = Boolean(answer.next_cursor);
    this.started = true;
    const buffered = this.liveBuffer ?? [];
    this.liveBuffer = null;
    // A number missing inside the page is one the server did not have when it read it.
    this.insert(messages, { bulk: true, confirmedBelow: Math.max(0, ...numbers) });
    if (buffered.length) this.insert(buffered);
    this.updateOlderButton();
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
   * After a reconnect: join the room again, fetch everything numbered after the watermark
   * (page by page while has_more), then resend what did not get through.
   */
  async resume() {
    const ticketId = this.ticketId;
    if (!ticketId) return;
    const generation = this.generation;
    const stale = () => generation !== this.generation || !this.socket.connected;
    try {
      const answer = await ask(this.socket, "ticket:join", { ticket_id: ticketId });
      if (stale()) return;
      if (!this.started) {
        this.start(answer); // the first join never answered
      } else {
        this.round = null; // a catch-up from before the drop will answer nothing useful now
        await this.catchUp({ rethrow: true });
        if (stale()) return;
      }
      this.updateTicket(answer.ticket);
      this.fillViewport();
      await this.resendPending();
    } catch (error) {
      if (generation !== this.generation) return;
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
    this.insert([message]);
    this.clearTyper(message.sender_name);
    if (stick) this.scrollToBottom();
  }

  /** A `ticket:updated` from the socket (or a ticket from an answer). */
  updateTicket(ticket) {
    if (!ticket || ticket.id !== this.ticketId) return;
    if (isOlderTicket(ticket, this.ticket)) return; // overtaken by a newer state we hold
    this.ticket = ticket;
    if (this.closed) {
      // Nobody types in a closed conversation (and the server refuses `typing` there,
      // so a last `typing: false` may never come).
      this.stopTyping();
      for (const name of [...this.typers.keys()]) this.clearTyper(name);
    }
    this.onTicket(ticket);
  }

  /**
   * Put messages in the list at their number's place, skipping those already there (by
   * id) and turning our own pending ones into the stored message; then settle the
   * watermark. `confirmedBelow`: the answer these came in had no message at the missing
   * numbers below this one.
   */
  insert(messages, { bulk = false, confirmedBelow = 0 } = {}) {
    let added = false;
    for (const message of messages) {
      if (!message || message.ticket_id !== this.ticketId || !message.id) continue;
      if (this.elements.has(message.id)) continue;
      const mine = message.client_msg_id ? this.pending.get(message.client_msg_id) : null;
      let li;
      if (mine) {
        this.pending.delete(mine.clientMsgId);
        li = mine.el;
        li.remove(); // out of the unconfirmed ones at the bottom, into its place
        fillMessage(li, message, this.viewer);
      } else {
        li = renderMessage(message, this.viewer);
      }
      const seq = seqOf(message);
      this.list.insertBefore(li, rowAfter(this.list, seq ?? Infinity));
      this.elements.set(message.id, li);
      if (seq !== null) this.count(seq);
      added = true;
    }
    if (added) {
      if (bulk) this.list.setAttribute("aria-busy", "true");
      regroup(this.list);
      if (bulk) requestAnimationFrame(() => this.list.removeAttribute("aria-busy"));
    }
    this.settle({ confirmedBelow });
    return added;
  }

  count(seq) {
    if (seq > this.watermark) this.held.add(seq);
    if (seq > this.top) this.top = seq;
    if (this.oldest === null || seq < this.oldest) this.oldest = seq;
  }

  // ------------------------------------------------------------ watermark and holes

  /**
   * After messages came in, or when the timer says something is due: note the numbers
   * missing below the highest held, move the watermark up through what is held and
   * through holes that are known to be permanent, ask about holes that stayed open past
   * a short grace, and set the one timer for what is due next.
   */
  settle({ confirmedBelow = 0 } = {}) {
    if (!this.started) return;
    const now = Date.now();
    const last = Math.min(this.top, this.watermark + MAX_TRACKED_HOLES);
    for (let seq = this.watermark + 1; seq < last; seq += 1) {
      if (!this.held.has(seq) && !this.holes.has(seq)) {
        this.holes.set(seq, { since: now, askAt: now + GAP_GRACE_MS, confirmed: false });
      }
    }
    for (const [seq, hole] of this.holes) if (seq < confirmedBelow) hole.confirmed = true;
    for (;;) {
      const next = this.watermark + 1;
      if (!this.held.delete(next)) {
        // Not held: pass it only as a permanent hole (confirmed, and missing long enough).
        const hole = this.holes.get(next);
        if (!hole?.confirmed || now - hole.since < HOLE_WAIT_MS) break;
      }
      this.holes.delete(next);
      this.watermark = next;
    }
    this.list.dataset.watermark = String(this.watermark);
    if (this.canAsk() && [...this.holes.values()].some((hole) => !hole.confirmed && hole.askAt <= now)) {
      this.catchUp();
    }
    this.planNextCheck(now);
  }

  canAsk() {
    return this.started && !this.round && this.socket.connected;
  }

  /** One timer at most: for the first hole to skip, or the first hole to ask about. */
  planNextCheck(now) {
    clearTimeout(this.holeTimer);
    this.holeTimer = null;
    let due = Infinity;
    // Only the hole just above the watermark can be skipped; the others wait behind it.
    const front = this.holes.get(this.watermark + 1);
    if (front?.confirmed) due = front.since + HOLE_WAIT_MS;
    // Asking waits for a catch-up that is running (it settles when it ends) and for the
    // connection (resume() catches up on reconnect).
    if (this.canAsk()) {
      for (const hole of this.holes.values()) if (!hole.confirmed) due = Math.min(due, hole.askAt);
    }
    if (due === Infinity) return;
    const generation = this.generation;
    this.holeTimer = setTimeout(
      () => {
        this.holeTimer = null;
        if (generation === this.generation) this.settle();
      },
      Math.max(due - now, 50),
    );
  }

  /**
   * One catch-up: every message numbered above the watermark, page by page, each put in
   * its place. A number still missing below one the server returned, or missing before we
   * asked and not returned at all, is confirmed: the server did not have it. A catch-up
   * that fails is tried again HOLE_WAIT_MS later, never at once. Resolves true when it
   * got to the end.
   */
  async catchUp({ rethrow = false } = {}) {
    if (!this.canAsk() || !this.ticketId) return false;
    const round = {};
    this.round = round;
    const generation = this.generation;
    const ticketId = this.ticketId;
    const current = () => generation === this.generation && this.round === round;
    const covered = []; // the holes this catch-up answers for
    for (const [seq, hole] of this.holes) {
      if (hole.confirmed) continue;
      hole.askAt = Infinity;
      covered.push(seq);
    }
    try {
      let after = this.watermark;
      for (;;) {
        const page = await ask(this.socket, "messages:history", { ticket_id: ticketId, after, limit: CATCH_UP_PAGE });
        if (!current()) return false;
        const messages = page.messages ?? [];
        const last = Math.max(after, ...messages.map(seqOf).filter((seq) => seq !== null));
        this.insert(messages, { bulk: true, confirmedBelow: last });
        if (!page.has_more || last <= after) break;
        after = last;
      }
      for (const seq of covered) {
        const hole = this.holes.get(seq);
        if (hole) hole.confirmed = true;
      }
      return true;
    } catch (error) {
      if (!current()) return false;
      const retryAt = Date.now() + HOLE_WAIT_MS;
      for (const seq of covered) {
        const hole = this.holes.get(seq);
        if (hole && !hole.confirmed) hole.askAt = retryAt;
      }
      if (rethrow) throw error;
      return false;
    } finally {
      if (this.round === round) this.round = null;
      if (generation === this.generation) this.settle();
    }
  }

  // ------------------------------------------------------------ sending

  /** Send a message; it shows at once and is confirmed (or marked) when the server answers. */
  async send(body, { kind = "message" } = {}) {
    if (!this.ticketId) return;
    this.stopTyping();
    const entry = { clientMsgId: newClientMsgId(), body, kind, ticketId: this.ticketId, el: null, state: "sending" };
    this.showPending(entry, body);
    await this.deliver(entry);
  }

  /** Send a file: it shows at once with its upload's progress, then as the stored message. */
  async sendFile(file) {
    if (!this.ticketId || !file) return;
    const entry = { clientMsgId: newClientMsgId(), file, kind: "message", ticketId: this.ticketId, el: null, state: "sending" };
    this.showPending(entry, file.name);
    await this.deliver(entry);
  }

  /** A message being sent, shown at once at the bottom (no id until the server answers). */
  showPending(entry, body) {
    entry.el = renderMessage(
      {
        id: "",
        ticket_id: this.ticketId,
        kind: entry.kind,
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
  }

  async deliverFile(entry) {
    this.markPending(entry, "sending");
    const status = entry.el.querySelector(".msg__status");
    const progress = document.createElement("progress");
    progress.className = "msg__progress";
    progress.max = 100;
    progress.value = 0;
    const label = say("uploading", { name: entry.file.name, percent: 0 });
    progress.setAttribute("aria-label", label);
    status.replaceChildren(progress);
    status.hidden = false;
    const generation = this.generation;
    try {
      const { message } = await uploadFile({
        ticketId: entry.ticketId,
        file: entry.file,
        clientMsgId: entry.clientMsgId,
        onProgress: (percent) => {
          progress.value = percent;
          progress.setAttribute("aria-label", say("uploading", { name: entry.file.name, percent }));
        },
      });
      if (generation === this.generation && this.pending.get(entry.clientMsgId) === entry) this.confirm(entry, message);
    } catch (error) {
      if (generation !== this.generation || this.pending.get(entry.clientMsgId) !== entry) return;
      this.markPending(entry, "failed", error);
    }
  }

  async deliver(entry) {
    if (entry.file) return this.deliverFile(entry);
    if (!this.socket.connected) {
      this.markPending(entry, "waiting");
      return;
    }
    this.markPending(entry, "sending");
    const generation = this.generation;
    try {
      // An internal note (agents only) goes through its own event: never to the guest.
      const event = entry.kind === "note" ? "note:add" : "message:send";
      const { message } = await ask(this.socket, event, {
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
      if (error.code === "timeout" && (entry.timeouts = (entry.timeouts ?? 0) + 1) < SEND_ATTEMPTS) {
        // No answer is not "not stored": a busy server may store it and answer too late
        // for us, and then nothing shows it here (message:new skips the sender). It answers
        // one socket's events in order, so asking again is answered after the first: with
        // the stored message (a duplicate) if that one went through.
        return this.deliver(entry);
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

  /** The server's answer to our send: the pending row becomes the message, at its place. */
  confirm(entry, message) {
    if (message?.id && message.client_msg_id === entry.clientMsgId) this.insert([message]);
    if (this.pending.get(entry.clientMsgId) === entry) {
      // Already shown (it came in live or by catch-up first), or nothing to show.
      this.pending.delete(entry.clientMsgId);
      entry.el.remove();
      regroup(this.list);
    }
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
      status.textContent = say("waiting");
    } else if (state === "failed") {
      const text = document.createElement("span");
      text.textContent = `${say("notSent")} ${error?.message ?? say("unknownError")}`;
      status.append(text);
      if (error?.code !== "closed") {
        const retry = document.createElement("button");
        retry.type = "button";
        retry.className = "link-button";
        retry.textContent = say("retry");
        retry.addEventListener("click", () => {
          entry.timeouts = 0;
          this.deliver(entry);
        });
        status.append(" ", retry);
      }
    }
  }

  // ------------------------------------------------------------ older pages

  /** The page before the oldest message held (by number), put in above it. */
  async loadOlder() {
    if (!this.moreOlder || this.oldest === null || this.loadingOlder || !this.ticketId) return;
    if (!this.started || !this.socket.connected) return;
    const generation = this.generation;
    this.loadingOlder = true;
    this.updateOlderButton();
    try {
      const page = await ask(this.socket, "messages:history", {
        ticket_id: this.ticketId,
        before: this.oldest,
        limit: HISTORY_PAGE,
      });
      if (generation !== this.generation) return;
      const previousHeight = this.scroller.scrollHeight;
      const previousTop = this.scroller.scrollTop;
      const messages = page.messages ?? [];
      this.insert(messages, { bulk: true });
      this.moreOlder = Boolean(page.has_more) && messages.length > 0;
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
      if (this.moreOlder && this.scroller.scrollHeight <= this.scroller.clientHeight + 4) this.loadOlder();
    });
  }

  updateOlderButton() {
    if (!this.olderButton) return;
    this.olderButton.hidden = !this.moreOlder;
    this.olderButton.disabled = this.loadingOlder;
    this.olderButton.textContent = say(this.loadingOlder ? "loading" : "loadOlder");
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
    // An agent writing an internal note (typingNote): only the other agents hear of it.
    const payload = { ticket_id: this.ticketId, typing, ...(this.typingNote ? { note: true } : {}) };
    ask(this.socket, "typing", payload).catch(() => {});
  }

  /** A `typing` event from someone else. */
  receiveTyping(event) {
    if (!event || event.ticket_id !== this.ticketId) return;
    if (this.viewer === "guest" && event.role === "guest") return;
    // The same agent typing in another tab.
    if (this.viewer === "agent" && event.role === "agent" && event.name && event.name === this.selfName) return;
    const name = event.name || say(event.role === "guest" ? "theGuest" : "support");
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
    const who = names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} ${say("and")} ${names.at(-1)}`;
    el.textContent = say(names.length === 1 ? "isTyping" : "areTyping", { who });
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
