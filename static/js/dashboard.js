// The agent dashboard (/dashboard): a live queue of tickets and one conversation pane.
import {
  api,
  ask,
  bindComposer,
  connectSocket,
  Conversation,
  formatFull,
  formatRelative,
  isOlderTicket,
  timeElement,
  watchConnection,
} from "./chat-core.js";
import { bindAttachments } from "./attachments.js";
import { bindBell } from "./bell.js";

const $ = (id) => document.getElementById(id);

const root = $("dashboard");
const me = {
  id: root.dataset.userId,
  name: root.dataset.userName,
  role: root.dataset.userRole,
};
const banner = $("connection-banner");
const baseTitle = document.title;

const queueList = $("queue");
const queueStatus = $("queue-status");
const queueCount = $("queue-count");
const queueMore = $("queue-more");
const statusFilter = $("status-filter");
const assigneeFilter = $("assignee-filter");
const priorityFilter = $("priority-filter");
const ticketStatus = $("ticket-status");
const ticketPriority = $("ticket-priority");
const ticketAssignee = $("ticket-assignee");

const emptyPane = $("conversation-empty");
const pane = $("conversation");
const paneTitle = $("conversation-title");
const paneEmail = $("conversation-email");
const paneCreated = $("conversation-created");
const paneSubject = $("conversation-subject");
const paneStatus = $("conversation-status");
const panePriority = $("conversation-priority");
const paneError = $("conversation-error");
const closeButton = $("close-ticket");
const closedBar = $("closed-bar");
const replyInput = $("reply-input");

const LOGIN_URL = "/login?next=%2Fdashboard";
const STATUS_LABELS = { open: "Open", pending: "Pending", resolved: "Resolved", closed: "Closed" };
const PRIORITY_LABELS = { low: "Low", normal: "Normal", high: "High", urgent: "Urgent" };

const queue = {
  tickets: new Map(), // id -> ticket, only those matching the filter
  // id -> the newest state seen of every ticket, in the queue or not: states arrive out of
  // order (live events, answers, pages fetched while events flow), and an older one must
  // not bring back what a newer one changed (a closed ticket reappearing as open).
  newest: new Map(),
  unread: new Set(),
  nextCursor: null,
  loading: false,
  buffered: null, // ticket:updated events that arrive while the queue is (re)loading
  request: 0,
};
let openId = null;

// ------------------------------------------------------------------ socket

const socket = connectSocket();
const conversation = new Conversation({
  socket,
  list: $("messages"),
  scroller: $("message-scroller"),
  olderButton: $("load-older"),
  typingIndicator: $("typing-indicator"),
  viewer: "agent",
  selfName: me.name,
  onTicket: renderTicketHeader,
  onError: (error) => showPaneError(error.message),
});

// The "Note" toggle: the next message is an internal note, seen by agents only.
const noteToggle = $("note-toggle");
const replyForm = $("reply-form");
const sendLabel = replyForm.querySelector(".composer__send-label");
let replyPlaceholder = replyInput.placeholder;

function noteMode() {
  return noteToggle.getAttribute("aria-pressed") === "true";
}

function setNoteMode(on) {
  noteToggle.setAttribute("aria-pressed", on ? "true" : "false");
  replyForm.classList.toggle("composer--note", on);
  replyInput.placeholder = on ? "Internal note: only agents see this…" : replyPlaceholder;
  sendLabel.textContent = on ? "Add note" : "Send";
  if (on) conversation.stopTyping(); // the guest is not told about notes being written
}

noteToggle.addEventListener("click", () => {
  setNoteMode(!noteMode());
  replyInput.focus();
});

const composer = bindComposer({
  form: replyForm,
  input: replyInput,
  button: $("reply-send"),
  onSend: (body) => conversation.send(body, { kind: noteMode() ? "note" : "message" }),
  onInput: (value) => {
    if (!noteMode()) conversation.noteTyping(value);
  },
});

// Files (button, drag and drop, paste) go to the guest as messages, never as notes.
bindAttachments({
  button: $("attach-button"),
  input: $("file-input"),
  dropZone: replyForm,
  pasteTarget: replyInput,
  enabled: () => !replyInput.disabled,
  onFiles: (files) => files.forEach((file) => conversation.sendFile(file)),
});

bindBell(socket);

socket.on("message:new", (message) => conversation.receive(message));
socket.on("typing", (event) => conversation.receiveTyping(event));
socket.on("ticket:updated", (ticket) => {
  conversation.updateTicket(ticket);
  applyTicket(ticket);
});

watchConnection(socket, banner, {
  onConnect(first) {
    // Subscribed first (the handshake puts us in the agents room), then fetch: no
    // ticket:updated can fall between the two.
    loadQueue();
    loadAgents();
    if (first) openLinkedTicket();
    else conversation.resume();
  },
  onRefused() {
    window.location.assign(LOGIN_URL);
  },
});

function authLost(error) {
  if (error?.status === 401 || error?.code === "unauthorized") {
    window.location.assign(LOGIN_URL);
    return true;
  }
  return false;
}

// ------------------------------------------------------------------ queue

function currentFilter() {
  return statusFilter.value === "all" ? null : statusFilter.value;
}

/** The query of the queue: status, assignee (me, none or an id) and priority. */
function queueQuery() {
  const query = { status: currentFilter() ?? undefined };
  if (assigneeFilter.value !== "all") query.assignee = assigneeFilter.value;
  if (priorityFilter.value !== "all") query.priority = priorityFilter.value;
  return query;
}

function matchesFilter(ticket) {
  const status = currentFilter();
  if (status === "active") {
    if (ticket.status !== "open" && ticket.status !== "pending") return false;
  } else if (status && ticket.status !== status) {
    return false;
  }
  const assignee = assigneeFilter.value;
  if (assignee === "me" && ticket.assignee_id !== me.id) return false;
  if (assignee === "none" && ticket.assignee_id) return false;
  const priority = priorityFilter.value;
  return priority === "all" || (ticket.priority ?? "normal") === priority;
}

function activityTime(ticket) {
  return Date.parse(ticket.updated_at ?? ticket.last_message_at ?? ticket.created_at) || 0;
}

function sortedTickets() {
  return [...queue.tickets.values()].sort(
    (a, b) => activityTime(b) - activityTime(a) || (a.id < b.id ? 1 : -1),
  );
}

/** (Re)load the first page of the queue for the current filter. */
async function loadQueue() {
  const request = ++queue.request;
  queue.loading = true;
  queue.buffered = new Map();
  if (!queue.tickets.size) setQueueStatus("Loading tickets…");
  try {
    const data = await api("/api/tickets", { query: { ...queueQuery(), limit: 50 } });
    if (request !== queue.request) return;
    queue.tickets = new Map();
    for (const fetched of data.tickets ?? []) {
      // The server chose the rows; a newer state seen live may have left the filter.
      const ticket = newestState(fetched);
      if (ticket === fetched || matchesFilter(ticket)) queue.tickets.set(ticket.id, ticket);
    }
    queue.nextCursor = data.next_cursor ?? null;
    const buffered = queue.buffered;
    queue.buffered = null;
    queue.loading = false;
    for (const ticket of buffered.values()) applyTicket(ticket);
    renderQueue();
  } catch (error) {
    if (request !== queue.request) return;
    queue.loading = false;
    queue.buffered = null;
    if (authLost(error)) return;
    setQueueStatus(`Could not load tickets. ${error.message}`);
  }
}

async function loadMore() {
  if (!queue.nextCursor || queue.loading) return;
  const request = queue.request;
  queueMore.disabled = true;
  try {
    const data = await api("/api/tickets", {
      query: { ...queueQuery(), limit: 50, before: queue.nextCursor },
    });
    if (request !== queue.request) return;
    for (const fetched of data.tickets ?? []) {
      // The server chose the rows; a newer state seen live may have left the filter.
      const ticket = newestState(fetched);
      if (ticket === fetched || matchesFilter(ticket)) queue.tickets.set(ticket.id, ticket);
    }
    queue.nextCursor = data.next_cursor ?? null;
    renderQueue();
  } catch (error) {
    if (!authLost(error)) setQueueStatus(`Could not load more tickets. ${error.message}`);
  } finally {
    queueMore.disabled = false;
  }
}

/**
 * The newest state of a ticket seen so far, counting this one: `ticket` itself unless a
 * higher version was seen (then that one). Remembers it.
 */
function newestState(ticket) {
  const seen = queue.newest.get(ticket.id);
  if (isOlderTicket(ticket, seen)) return seen;
  queue.newest.set(ticket.id, ticket);
  return ticket;
}

/** Upsert one ticket from a live event or an answer, keeping only what matches the filter. */
function applyTicket(ticket) {
  if (!ticket?.id) return;
  if (newestState(ticket) !== ticket) return; // overtaken by a newer state
  if (queue.loading && queue.buffered) {
    queue.buffered.set(ticket.id, ticket);
    return;
  }
  const held = queue.tickets.get(ticket.id);
  if (matchesFilter(ticket)) {
    const newActivity = !held || held.last_message_at !== ticket.last_message_at;
    if (newActivity && !isInView(ticket.id)) queue.unread.add(ticket.id);
    queue.tickets.set(ticket.id, ticket);
  } else {
    queue.tickets.delete(ticket.id);
  }
  renderQueue();
}

const phoneWidth = window.matchMedia("(max-width: 640px)");

/** Whether the agent has this ticket's conversation in front of them. */
function isInView(ticketId) {
  return ticketId === openId && !(phoneWidth.matches && root.dataset.view === "queue");
}

function setQueueStatus(text) {
  queueStatus.textContent = text ?? "";
  queueStatus.hidden = !text;
}

function renderQueue() {
  const tickets = sortedTickets();
  const focusedId = document.activeElement?.closest?.("#queue [data-ticket-id]")?.dataset.ticketId;
  const existing = new Map();
  for (const button of queueList.querySelectorAll("[data-ticket-id]")) {
    existing.set(button.dataset.ticketId, button.parentElement);
  }
  const items = tickets.map((ticket) => {
    const li = existing.get(ticket.id) ?? createQueueItem();
    existing.delete(ticket.id);
    fillQueueItem(li.firstElementChild, ticket);
    return li;
  });
  // Reorder in place (moving only what moved keeps focus where it was).
  items.forEach((li, index) => {
    if (queueList.children[index] !== li) queueList.insertBefore(li, queueList.children[index] ?? null);
  });
  for (const li of existing.values()) li.remove();
  if (focusedId && document.activeElement === document.body) {
    queueList.querySelector(`[data-ticket-id="${CSS.escape(focusedId)}"]`)?.focus();
  }

  const label = statusFilter.selectedOptions[0]?.textContent.toLowerCase() ?? "";
  const narrowed = assigneeFilter.value !== "all" || priorityFilter.value !== "all";
  queueCount.textContent = tickets.length ? `${tickets.length}${queue.nextCursor ? "+" : ""}` : "";
  if (!tickets.length && !queue.loading) {
    if (narrowed) setQueueStatus("No tickets match these filters.");
    else setQueueStatus(label === "all" ? "No tickets yet." : `No ${label} tickets.`);
  } else if (tickets.length) {
    setQueueStatus(null);
  }
  queueMore.hidden = !queue.nextCursor;

  const unread = [...queue.unread].filter((id) => queue.tickets.has(id)).length;
  document.title = unread ? `(${unread}) ${baseTitle}` : baseTitle;
}

function createQueueItem() {
  const li = document.createElement("li");
  li.className = "queue__item";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "ticket-row";
  const top = document.createElement("span");
  top.className = "ticket-row__top";
  const name = document.createElement("span");
  name.className = "ticket-row__name";
  const time = document.createElement("span");
  time.className = "ticket-row__time";
  top.append(name, time);
  const subject = document.createElement("span");
  subject.className = "ticket-row__subject";
  const unread = document.createElement("span");
  unread.className = "visually-hidden ticket-row__unread";
  unread.textContent = "New activity.";
  const bottom = document.createElement("span");
  bottom.className = "ticket-row__bottom";
  const preview = document.createElement("span");
  preview.className = "ticket-row__preview";
  const status = document.createElement("span");
  status.className = "badge";
  bottom.append(preview, status);
  button.append(unread, top, subject, bottom);
  li.append(button);
  return li;
}

function fillQueueItem(button, ticket) {
  button.dataset.ticketId = ticket.id;
  button.dataset.status = ticket.status;
  const unread = queue.unread.has(ticket.id);
  button.classList.toggle("ticket-row--unread", unread);
  button.classList.toggle("ticket-row--urgent", ticket.priority === "urgent" || ticket.priority === "high");
  if (ticket.id === openId) button.setAttribute("aria-current", "true");
  else button.removeAttribute("aria-current");

  button.querySelector(".ticket-row__name").textContent = ticket.guest_name || "Guest";
  const when = ticket.last_message_at ?? ticket.updated_at ?? ticket.created_at;
  button.querySelector(".ticket-row__time").replaceChildren(timeElement(when, formatRelative(when)));
  button.querySelector(".ticket-row__subject").textContent = ticket.subject || "(no subject)";
  button.querySelector(".ticket-row__preview").textContent = ticket.last_message_preview ?? "";
  const status = button.querySelector(".badge");
  status.className = `badge badge--${ticket.status}`;
  status.textContent = STATUS_LABELS[ticket.status] ?? ticket.status;
  button.querySelector(".ticket-row__unread").hidden = !unread;
}

queueList.addEventListener("click", (event) => {
  const button = event.target.closest("[data-ticket-id]");
  if (button) openTicket(button.dataset.ticketId);
});

// Up/Down move between rows (Enter and Space open, as for any button).
queueList.addEventListener("keydown", (event) => {
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const rows = [...queueList.querySelectorAll("[data-ticket-id]")];
  const index = rows.indexOf(document.activeElement);
  if (index < 0) return;
  event.preventDefault();
  rows[Math.max(0, Math.min(rows.length - 1, index + (event.key === "ArrowDown" ? 1 : -1)))].focus();
});

for (const filter of [statusFilter, assigneeFilter, priorityFilter]) {
  filter.addEventListener("change", () => {
    queue.tickets = new Map();
    queue.nextCursor = null;
    queueList.replaceChildren();
    loadQueue();
  });
}

queueMore.addEventListener("click", loadMore);

// Relative times ("5 min") age; refresh them now and then.
setInterval(() => {
  for (const button of queueList.querySelectorAll("[data-ticket-id]")) {
    const ticket = queue.tickets.get(button.dataset.ticketId);
    if (ticket) fillQueueItem(button, ticket);
  }
}, 30000);

// ------------------------------------------------------------------ conversation pane

async function openTicket(ticketId) {
  if (ticketId === openId && !pane.hidden) {
    root.dataset.view = "conversation";
    queue.unread.delete(ticketId);
    renderQueue();
    return;
  }
  openId = ticketId;
  queue.unread.delete(ticketId);
  renderQueue();

  emptyPane.hidden = true;
  pane.hidden = false;
  root.dataset.view = "conversation";
  showPaneError(null);
  composer.setEnabled(false);
  closeButton.disabled = true;
  closeButton.hidden = false;
  closedBar.hidden = true;
  const known = queue.tickets.get(ticketId);
  if (known) renderTicketHeader(known);
  else paneTitle.textContent = "Loading…";
  if (phoneWidth.matches) paneTitle.focus();

  try {
    await conversation.open(ticketId);
  } catch (error) {
    if (openId !== ticketId || error.code === "disconnected") return;
    if (authLost(error)) return;
    showPaneError(`Could not open this conversation. ${error.message}`);
  }
}

function renderTicketHeader(ticket) {
  if (ticket.id !== openId) return;
  paneTitle.textContent = ticket.guest_name || "Guest";
  paneEmail.replaceChildren();
  if (ticket.guest_email) {
    const link = document.createElement("a");
    link.href = `mailto:${ticket.guest_email}`;
    link.textContent = ticket.guest_email;
    paneEmail.append(link);
  } else {
    paneEmail.textContent = "No e-mail given";
  }
  paneCreated.textContent = ticket.created_at ? `Opened ${formatFull(ticket.created_at)}` : "";
  paneSubject.textContent = ticket.subject ?? "";
  paneStatus.className = `badge badge--${ticket.status}`;
  paneStatus.textContent = STATUS_LABELS[ticket.status] ?? ticket.status;
  const priority = ticket.priority && ticket.priority !== "normal" ? ticket.priority : null;
  panePriority.hidden = !priority;
  panePriority.className = `badge badge--priority-${priority ?? "normal"}`;
  panePriority.textContent = priority ? `${PRIORITY_LABELS[priority] ?? priority} priority` : "";

  const closed = ticket.status === "closed";
  const joined = conversation.ticketId === ticket.id && conversation.ticket;
  renderControls(ticket, Boolean(joined));
  closedBar.hidden = !closed;
  closeButton.hidden = closed;
  closeButton.disabled = closed || !joined;
  closeButton.textContent = "Close ticket";
  composer.setEnabled(Boolean(joined) && !closed);
  noteToggle.disabled = !joined || closed;
  replyPlaceholder = `Reply to ${ticket.guest_name || "the guest"}…`;
  setNoteMode(noteMode() && !closed);
}

function showPaneError(text) {
  paneError.textContent = text ?? "";
  paneError.hidden = !text;
}

closeButton.addEventListener("click", async () => {
  const ticketId = openId;
  if (!ticketId) return;
  closeButton.disabled = true;
  closeButton.textContent = "Closing…";
  showPaneError(null);
  conversation.stopTyping();
  try {
    const { ticket } = await ask(socket, "ticket:close", { ticket_id: ticketId });
    conversation.updateTicket(ticket);
    applyTicket(ticket);
  } catch (error) {
    if (openId !== ticketId) return;
    showPaneError(`Could not close the ticket. ${error.message}`);
    if (conversation.ticket) renderTicketHeader(conversation.ticket);
  }
});

// ------------------------------------------------------------------ status, priority, assignee

const agents = new Map(); // id -> {id, name, role}: who a ticket can be assigned to

async function loadAgents() {
  try {
    const data = await api("/api/agents");
    agents.clear();
    for (const agent of data.agents ?? []) agents.set(agent.id, agent);
    if (conversation.ticket) renderControls(conversation.ticket, true);
  } catch (error) {
    authLost(error);
  }
}

function renderControls(ticket, enabled) {
  const options = [["", "Unassigned"]];
  for (const agent of agents.values()) {
    options.push([agent.id, agent.id === me.id ? `${agent.name} (me)` : agent.name]);
  }
  if (ticket.assignee_id && !agents.has(ticket.assignee_id)) {
    options.push([ticket.assignee_id, "Someone no longer active"]);
  }
  ticketAssignee.replaceChildren(
    ...options.map(([value, label]) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = label;
      return option;
    }),
  );
  ticketStatus.value = ticket.status;
  ticketPriority.value = ticket.priority ?? "normal";
  ticketAssignee.value = ticket.assignee_id ?? "";
  for (const select of [ticketStatus, ticketPriority, ticketAssignee]) {
    if (!select.dataset.busy) select.disabled = !enabled;
  }
}

async function changeTicket(select, field, value) {
  const ticketId = openId;
  if (!ticketId) return;
  select.dataset.busy = "1";
  select.disabled = true;
  showPaneError(null);
  try {
    const { ticket } = await ask(socket, "ticket:update", { ticket_id: ticketId, [field]: value });
    conversation.updateTicket(ticket);
    applyTicket(ticket);
  } catch (error) {
    if (openId === ticketId) showPaneError(`Could not change the ticket. ${error.message}`);
  } finally {
    delete select.dataset.busy;
    if (openId === ticketId && conversation.ticket) renderTicketHeader(conversation.ticket);
  }
}

ticketStatus.addEventListener("change", () => changeTicket(ticketStatus, "status", ticketStatus.value));
ticketPriority.addEventListener("change", () => changeTicket(ticketPriority, "priority", ticketPriority.value));
ticketAssignee.addEventListener("change", () =>
  changeTicket(ticketAssignee, "assignee_id", ticketAssignee.value || null),
);

/** /dashboard?ticket=<id> (the links in notifications) opens that conversation. */
function openLinkedTicket() {
  const linked = new URLSearchParams(window.location.search).get("ticket");
  if (linked && /^[0-9a-f]{24}$/.test(linked)) openTicket(linked);
}

$("back-to-queue").addEventListener("click", () => {
  root.dataset.view = "queue";
  queueList.querySelector(`[data-ticket-id="${CSS.escape(openId ?? "")}"]`)?.focus();
});

// ------------------------------------------------------------------ sign out

$("sign-out").addEventListener("click", async (event) => {
  event.currentTarget.disabled = true;
  try {
    await api("/api/auth/logout", { method: "POST" });
  } catch {
    // Signed out or not, the login page is where to go next.
  }
  socket.disconnect();
  window.location.assign("/login");
});

// A tab that slept may have missed events while the socket was still "connected".
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && socket.connected) loadQueue();
});
