// The guest chat widget (/widget): start a conversation, then chat live.
import { api, bindComposer, connectSocket, Conversation, watchConnection } from "./chat-core.js";

const $ = (id) => document.getElementById(id);

const root = $("widget");
const views = { loading: $("loading-view"), start: $("start-view"), chat: $("chat-view") };
const banner = $("connection-banner");
const subtitle = $("widget-subtitle");
const defaultSubtitle = subtitle.textContent;

const startForm = $("start-form");
const startError = $("start-error");
const startButton = $("start-button");
const nameInput = $("name");
const emailInput = $("email");
const firstMessageInput = $("first-message");

const closedBar = $("closed-bar");
const newConversationButton = $("new-conversation");

let socket = null;
let socketReady = null;
let conversation = null;

const composer = bindComposer({
  form: $("composer"),
  input: $("message-input"),
  button: $("send-button"),
  onSend: (body) => conversation?.send(body),
  onInput: (value) => conversation?.noteTyping(value),
});

function show(view) {
  root.dataset.state = view;
  for (const [name, el] of Object.entries(views)) el.hidden = name !== view;
}

// ------------------------------------------------------------------ socket

/** Connect (once) and resolve after the first handshake; reject if the server refuses. */
function ensureSocket() {
  if (socketReady) return socketReady;
  socket = connectSocket({ auth: { as: "guest" } });
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
      selfName: "You",
      onTicket: renderTicketState,
      onError: conversationFailed,
    });
  }
  socket.on("message:new", (message) => conversation.receive(message));
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
          // Refused on a reconnect: the guest cookie is gone or no longer valid.
          conversation.close();
          showStart("Your conversation could not be reopened. You can start a new one here.");
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

// ------------------------------------------------------------------ views

function showStart(errorText) {
  show("start");
  setStartError(errorText);
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

function rememberGuest(ticket) {
  if (!nameInput.value && ticket.guest_name) nameInput.value = ticket.guest_name;
  if (!emailInput.value && ticket.guest_email) emailInput.value = ticket.guest_email;
}

function renderTicketState(ticket) {
  rememberGuest(ticket);
  const closed = ticket.status === "closed";
  closedBar.hidden = !closed;
  composer.setEnabled(!closed);
  subtitle.textContent = closed ? "This conversation has ended." : defaultSubtitle;
}

function conversationFailed(error) {
  conversation?.close();
  showStart(
    error?.code === "not_found" || error?.code === "forbidden"
      ? "We could not open your conversation. You can start a new one here."
      : error?.message,
  );
}

async function openTicket(ticketId, { focus = false } = {}) {
  show("chat");
  closedBar.hidden = true;
  composer.setEnabled(false);
  try {
    await ensureSocket();
  } catch {
    showStart("We could not connect to the chat. Please start a new conversation.");
    return;
  }
  try {
    const ticket = await conversation.open(ticketId);
    if (ticket && focus && ticket.status !== "closed") composer.focus();
  } catch (error) {
    if (error.code === "disconnected") return; // joined again by resume() on reconnect
    conversationFailed(error);
  }
}

// ------------------------------------------------------------------ start form

startForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  const email = emailInput.value.trim();
  const message = firstMessageInput.value.trim();
  if (!name) return setStartError("Please tell us your name.", nameInput);
  if (email && !emailInput.checkValidity()) {
    return setStartError("That e-mail address does not look right.", emailInput);
  }
  if (!message) return setStartError("Please write your message.", firstMessageInput);
  setStartError(null);

  startButton.disabled = true;
  startButton.textContent = "Starting…";
  try {
    const payload = { name, message, context: guestContext() };
    if (email) payload.email = email;
    const { ticket } = await api("/api/guest/tickets", { method: "POST", body: payload });
    firstMessageInput.value = "";
    await openTicket(ticket.id, { focus: true });
  } catch (error) {
    const fields = { name: nameInput, email: emailInput, message: firstMessageInput, body: firstMessageInput };
    setStartError(error.message, fields[error.field]);
  } finally {
    startButton.disabled = false;
    startButton.textContent = "Start chat";
  }
});

/** Where and how the chat starts, for the agents: the page (given by embed.js, else the
 * framing page's address), the browser, its time zone and language. */
function guestContext() {
  const given = new URLSearchParams(window.location.search);
  const framed = window.parent !== window;
  const context = {
    page_url: given.get("page_url") || (framed ? document.referrer : window.location.href),
    page_title: given.get("page_title") || (framed ? "" : document.title),
    user_agent: navigator.userAgent,
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    locale: navigator.language,
  };
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

newConversationButton.addEventListener("click", () => {
  conversation?.close();
  showStart();
  (nameInput.value ? firstMessageInput : nameInput).focus();
});

// ------------------------------------------------------------------ start

async function init() {
  let tickets = [];
  try {
    ({ tickets = [] } = await api("/api/guest/tickets"));
  } catch {
    tickets = [];
  }
  const current = tickets.find((ticket) => ticket.status !== "closed") ?? tickets[0];
  if (current) {
    rememberGuest(current);
    await openTicket(current.id);
  } else {
    showStart();
  }
}

init();
