// The guest chat widget (/widget): the guest's conversations, starting one, chatting live,
// files, and rating a closed conversation. Works framed on another site whose cookie is
// blocked: the guest's identity is kept in this origin's storage and sent in a header and
// in the socket's handshake. Every word comes from the catalogue (./i18n/<lang>.js).
import { useTokenForFiles, bindAttachments } from "./attachments.js";
import {
  api, bindComposer, connectSocket, Conversation, formatRelative, requestHeaders, setRequestHeaders,
  setStrings, watchConnection,
} from "./chat-core.js";

const $ = (id) => document.getElementById(id);
const root = $("widget");
const views = { loading: $("loading-view"), list: $("list-view"), start: $("start-view"), chat: $("chat-view") };
const banner = $("connection-banner");
const nameInput = $("name");
const emailInput = $("email");
const firstMessageInput = $("first-message");
const startForm = $("start-form");
const startError = $("start-error");
const startButton = $("start-button");
const closedBar = $("closed-bar");
const ratingForm = $("rating-form");
const ratingDone = $("rating-done");
const framed = window.parent !== window;
const STORE = "support-chat:guest";
const RATING_DAYS = 7;

let words = {};
const t = (key, vars = {}) => (words[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));

let socket = null;
let socketReady = null;
let conversation = null;
let tickets = [];
let panelOpen = !framed; // framed: the launcher says when the panel shows
let unread = 0;
let pageContext = null;

// ------------------------------------------------------------------ identity

function stored() {
  try {
    return JSON.parse(localStorage.getItem(STORE) || "null") ?? {};
  } catch {
    return {};
  }
}

let held = stored(); // also in memory: storage may be refused
// Some browsers refuse a framed page any storage of its own (not even partitioned). Then the
// launcher keeps the token in the shop's storage for us and hands it back in the frame's
// URL fragment (never sent to a server), which is read once and removed here.
const ownStorage = (() => {
  try {
    localStorage.setItem(`${STORE}:probe`, "1");
    localStorage.removeItem(`${STORE}:probe`);
    return true;
  } catch {
    return false;
  }
})();
const handedBack = new URLSearchParams(location.hash.slice(1)).get("gt");
if (handedBack && !held.guest_token) held = { ...held, guest_token: handedBack };

/** Keep the guest's identity in this origin's storage (partitioned per site when framed). */
function remember(tokens) {
  const next = { ...held, ...Object.fromEntries(Object.entries(tokens).filter(([, v]) => v)) };
  held = next;
  try {
    localStorage.setItem(STORE, JSON.stringify(next));
  } catch {
    /* storage refused: the token in memory still serves this visit */
  }
  setRequestHeaders({ "X-Guest-Token": next.guest_token });
  if (!ownStorage && framed && next.guest_token) {
    window.parent.postMessage({ type: "support-chat:identity", token: next.guest_token }, "*");
  }
  if (next.badge_token && framed) window.parent.postMessage({ type: "support-chat:badge", token: next.badge_token }, "*");
}

// ------------------------------------------------------------------ words

async function loadWords() {
  const wanted = (new URLSearchParams(location.search).get("lang") || navigator.language || "en").toLowerCase();
  const code = wanted.startsWith("de") ? "de" : "en";
  words = (await import(`./i18n/${code}.js`)).default;
  document.documentElement.lang = code;
  setStrings(words);
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n, { n: el.dataset.n });
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
}

function renderPresence() {
  const online = root.dataset.online === "true";
  const minutes = Number(root.dataset.replyMinutes) || 0;
  let text = online ? (minutes ? t("repliesIn", { n: minutes }) : t("online")) : t("away");
  if (!online && root.dataset.backAt) {
    const when = new Date(root.dataset.backAt);
    const format = new Intl.DateTimeFormat(document.documentElement.lang, { weekday: "long", hour: "numeric", minute: "2-digit" });
    text = t("backAt", { when: format.format(when) });
  }
  $("presence-text").textContent = text;
  $("presence-dot").classList.toggle("is-online", online);
  const required = root.dataset.emailRequired === "true";
  emailInput.required = required;
  $("email-optional").hidden = required;
  $("email-hint").textContent = t(required ? "emailHintRequired" : "emailHint");
}

// ------------------------------------------------------------------ views

function show(view) {
  root.dataset.state = view;
  for (const [name, el] of Object.entries(views)) el.hidden = name !== view;
  $("back-button").hidden = view !== "chat" || tickets.length === 0;
  $("start-list").hidden = view !== "start" || tickets.length === 0;
  if (view !== "chat") renderPresence();
}

function setStartError(text, field) {
  for (const input of [nameInput, emailInput, firstMessageInput]) input.removeAttribute("aria-invalid");
  startError.textContent = text ?? "";
  startError.hidden = !text;
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

function showStart(errorText) {
  show("start");
  setStartError(errorText);
}

function rememberGuest(ticket) {
  if (!nameInput.value && ticket.guest_name) nameInput.value = ticket.guest_name;
  if (!emailInput.value && ticket.guest_email) emailInput.value = ticket.guest_email;
}

function renderList() {
  const list = $("conversation-list");
  list.replaceChildren(
    ...tickets.map((ticket) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "conversation-row";
      button.dataset.ticketId = ticket.id;
      button.dataset.status = ticket.status;
      const subject = document.createElement("span");
      subject.className = "conversation-row__subject";
      subject.textContent = ticket.subject;
      const preview = document.createElement("span");
      preview.className = "conversation-row__preview";
      preview.textContent = ticket.last_message_preview ?? "";
      const meta = document.createElement("span");
      meta.className = "conversation-row__meta";
      const status = document.createElement("span");
      status.className = `status-pill status-pill--${ticket.status}`;
      status.textContent = t(`status_${ticket.status}`);
      meta.append(status, " ", formatRelative(ticket.last_message_at));
      button.append(subject, preview, meta);
      button.addEventListener("click", () => openTicket(ticket.id, { focus: true }));
      li.append(button);
      return li;
    }),
  );
}

async function showList() {
  conversation?.close();
  await refreshTickets();
  if (!tickets.length) return showStart();
  renderList();
  show("list");
  $("conversation-list").querySelector("button")?.focus();
}

async function refreshTickets() {
  try {
    const answer = await api("/api/guest/tickets");
    tickets = answer.tickets ?? [];
    if (answer.badge_token) remember({ badge_token: answer.badge_token });
  } catch {
    /* keep what we had */
  }
}

// ------------------------------------------------------------------ socket

function ensureSocket() {
  if (socketReady) return socketReady;
  socket = connectSocket({ auth: { as: "guest", guest_token: held.guest_token } });
  if (conversation) {
    conversation.socket = socket;
  } else {
    conversation = new Conversation({
      socket,
      list: $("messages"),
      scroller: $("message-scroller"),
      olderButton: $("load-older"),
      typingIndicator: $("typing-indicator"),
      viewer: "guest",
      selfName: t("you"),
      onTicket: renderTicketState,
      onError: conversationFailed,
    });
  }
  socket.on("message:new", (message) => {
    conversation.receive(message);
    noteArrival(message);
  });
  socket.on("ticket:updated", (ticket) => conversation.updateTicket(ticket));
  socket.on("typing", (event) => conversation.receiveTyping(event));
  let settled = false;
  socketReady = new Promise((resolve, reject) => {
    watchConnection(socket, banner, {
      onConnect(first) {
        if (first) {
          settled = true;
          resolve();
        } else {
          conversation.resume();
        }
      },
      onRefused(error) {
        dropSocket();
        if (!settled) {
          settled = true;
          reject(error);
        } else {
          conversation.close();
          showStart(t("couldNotOpen"));
        }
      },
    });
  });
  return socketReady;
}

function dropSocket() {
  if (!socket) return;
  socket.removeAllListeners();
  socket.disconnect();
  socket = null;
  socketReady = null;
}

// ------------------------------------------------------------------ unread (the launcher's badge)

function newestSeq() {
  const rows = $("messages").querySelectorAll("li[data-seq]");
  return rows.length ? Number(rows[rows.length - 1].dataset.seq) : 0;
}

function markRead() {
  if (!panelOpen || !conversation?.ticketId || !socket?.connected) return;
  const seq = newestSeq();
  if (seq > 0) socket.emit("ticket:read", { ticket_id: conversation.ticketId, seq }, () => {});
}

function noteArrival(message) {
  if (message.sender_role === "agent" && !panelOpen) {
    unread += 1;
    window.parent.postMessage({ type: "support-chat:unread", count: unread }, "*");
  } else {
    requestAnimationFrame(markRead);
  }
}

window.addEventListener("message", (event) => {
  if (event.source !== window.parent || event.data?.type?.startsWith?.("support-chat:") !== true) return;
  if (event.data.type === "support-chat:panel") {
    panelOpen = Boolean(event.data.open);
    if (panelOpen) {
      unread = 0;
      markRead();
    }
  } else if (event.data.type === "support-chat:context") {
    const { page_url: url, page_title: title } = event.data;
    pageContext = {
      page_url: typeof url === "string" ? url.slice(0, 2000) : undefined,
      page_title: typeof title === "string" ? title.slice(0, 300) : undefined,
    };
  }
});

// ------------------------------------------------------------------ a conversation

function renderTicketState(ticket) {
  rememberGuest(ticket);
  const closed = ticket.status === "closed";
  closedBar.hidden = !closed;
  composer.setEnabled(!closed);
  $("attach-button").disabled = closed;
  $("composer").hidden = closed;
  $("presence-dot").hidden = closed;
  if (closed) {
    $("presence-text").textContent = t("ended");
    renderRating(ticket);
  } else {
    renderPresence();
  }
  const held = tickets.findIndex((known) => known.id === ticket.id);
  if (held >= 0) tickets[held] = { ...tickets[held], ...ticket };
  else tickets.unshift(ticket);
  $("back-button").hidden = root.dataset.state !== "chat";
  requestAnimationFrame(markRead);
}

function renderRating(ticket) {
  const closedAt = Date.parse(ticket.closed_at ?? "");
  const open = Number.isFinite(closedAt) && Date.now() < closedAt + RATING_DAYS * 86400000;
  const rated = ticket.csat;
  ratingDone.hidden = !rated;
  if (rated) ratingDone.textContent = t("ratedThanks", { n: rated.rating });
  ratingForm.hidden = !open || (rated && !ratingForm.dataset.changing);
  if (!ratingForm.hidden && rated) {
    ratingForm.querySelector(`input[value="${rated.rating}"]`).checked = true;
    $("rating-comment").value = rated.comment ?? "";
  }
  let change = $("rating-change");
  if (rated && open && ratingForm.hidden) {
    if (!change) {
      change = document.createElement("button");
      change.id = "rating-change";
      change.type = "button";
      change.className = "link-button";
      change.addEventListener("click", () => {
        ratingForm.dataset.changing = "1";
        renderRating(conversation.ticket);
        ratingForm.querySelector("input:checked")?.focus();
      });
      ratingDone.after(change);
    }
    change.textContent = t("changeRating");
  } else {
    change?.remove();
  }
}

ratingForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const chosen = ratingForm.querySelector("input[name=rating]:checked");
  const error = $("rating-error");
  if (!chosen) {
    error.textContent = t("rateChoose");
    error.hidden = false;
    return;
  }
  error.hidden = true;
  $("rating-send").disabled = true;
  try {
    const { ticket } = await api(`/api/tickets/${conversation.ticketId}/csat`, {
      method: "POST",
      body: { rating: Number(chosen.value), comment: $("rating-comment").value.trim() || null },
    });
    delete ratingForm.dataset.changing;
    conversation.updateTicket(ticket);
    ratingDone.focus?.();
  } catch (failure) {
    error.textContent = failure.message;
    error.hidden = false;
  } finally {
    $("rating-send").disabled = false;
  }
});

function conversationFailed(error) {
  conversation?.close();
  showStart(error?.code === "not_found" || error?.code === "forbidden" ? t("couldNotOpen") : error?.message);
}

async function openTicket(ticketId, { focus = false } = {}) {
  show("chat");
  closedBar.hidden = true;
  delete ratingForm.dataset.changing;
  composer.setEnabled(false);
  try {
    await ensureSocket();
  } catch {
    showStart(t("couldNotConnect"));
    return false;
  }
  try {
    const ticket = await conversation.open(ticketId);
    if (ticket && focus && ticket.status !== "closed") composer.focus();
    return true;
  } catch (error) {
    if (error.code === "disconnected") return true;
    conversationFailed(error);
    return false;
  }
}

const composer = bindComposer({
  form: $("composer"),
  input: $("message-input"),
  button: $("send-button"),
  onSend: (body) => conversation?.send(body),
  onInput: (value) => conversation?.noteTyping(value),
});

bindAttachments({
  button: $("attach-button"),
  input: $("file-input"),
  dropZone: views.chat,
  pasteTarget: $("message-input"),
  enabled: () => Boolean(conversation?.ticketId) && !conversation.closed,
  onFiles: (files) => files.forEach((file) => conversation.sendFile(file)),
});

// ------------------------------------------------------------------ start form

startForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  const email = emailInput.value.trim();
  const message = firstMessageInput.value.trim();
  if (!name) return setStartError(t("nameMissing"), nameInput);
  if (email && !emailInput.checkValidity()) return setStartError(t("emailBad"), emailInput);
  if (!email && emailInput.required) return setStartError(t("emailMissing"), emailInput);
  if (!message) return setStartError(t("messageMissing"), firstMessageInput);
  setStartError(null);
  startButton.disabled = true;
  startButton.textContent = t("starting");
  try {
    const payload = { name, message, context: contextOfPage() };
    if (email) payload.email = email;
    const answer = await api("/api/guest/tickets", { method: "POST", body: payload });
    remember({ guest_token: answer.guest_token, badge_token: answer.badge_token });
    // The typed message stays in the form until the conversation shows it.
    if (await openTicket(answer.ticket.id, { focus: true })) firstMessageInput.value = "";
  } catch (error) {
    const fields = { name: nameInput, email: emailInput, message: firstMessageInput, body: firstMessageInput };
    setStartError(error.message, fields[error.field]);
  } finally {
    startButton.disabled = false;
    startButton.textContent = t("startChat");
  }
});

function contextOfPage() {
  const context = {
    ...(pageContext ?? { page_url: framed ? undefined : document.referrer || undefined }),
    user_agent: navigator.userAgent.slice(0, 400),
    locale: (navigator.language || "").slice(0, 35) || undefined,
  };
  try {
    context.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch {
    /* no time zone known */
  }
  if (context.page_url && !/^https?:\/\//i.test(context.page_url)) delete context.page_url;
  // What the server keeps of each (services/conversations/guest_context.py): longer values are left out.
  const limits = { page_url: 2000, page_title: 200, user_agent: 400, timezone: 64, locale: 35 };
  return Object.fromEntries(
    Object.entries(context).filter(([key, value]) => value && value.length <= limits[key]),
  );
}


// Enter in the first-message box submits too (Shift+Enter for a new line).
firstMessageInput.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    startForm.requestSubmit();
  }
});

function startNew() {
  conversation?.close();
  showStart();
  (nameInput.value ? firstMessageInput : nameInput).focus();
}

$("new-conversation").addEventListener("click", startNew);
$("list-new").addEventListener("click", startNew);
$("back-button").addEventListener("click", showList);
$("start-list").addEventListener("click", showList);

// ------------------------------------------------------------------ start

async function init() {
  // The admins' colour (/admin/settings), checked there to keep white text readable on it.
  const color = root.dataset.color;
  if (/^#[0-9a-f]{6}$/i.test(color ?? "")) {
    for (const name of ["--accent", "--accent-hover", "--bubble-mine", "--widget-color"]) root.style.setProperty(name, color);
    root.style.setProperty("--accent-text", "#ffffff");
  }
  await loadWords();
  const resumed = root.dataset.resumeTicket;
  if (root.dataset.guestToken) {
    remember({ guest_token: root.dataset.guestToken, badge_token: root.dataset.badgeToken });
    // The link's token has done its work: it leaves the address bar (and history).
    history.replaceState(null, "", "/widget");
  } else {
    remember({});
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  }
  useTokenForFiles(() => requestHeaders());
  const problem = root.dataset.resumeProblem;
  if (problem) {
    history.replaceState(null, "", "/widget");
    const note = $("resume-note");
    note.textContent = t(problem === "expired" ? "resumeExpired" : "resumeInvalid");
    note.hidden = false;
  }
  await refreshTickets();
  for (const ticket of tickets) rememberGuest(ticket);
  if (resumed && !problem) return openTicket(resumed);
  if (problem || !tickets.length) return showStart();
  const open = tickets.filter((ticket) => ticket.status !== "closed");
  if (open.length === 1) return openTicket(open[0].id);
  renderList();
  show("list");
}

init();
