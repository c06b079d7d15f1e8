// The agent dashboard (/dashboard, /dashboard/tickets/<id>): a live queue of tickets with
// search, one conversation pane with the guest's details beside it, per-ticket drafts,
// canned replies, tags, who else is here, alerts and keyboard shortcuts.
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
import { Alerts } from "./alerts.js";
import { CannedMenu } from "./canned.js";
import { Details } from "./details.js";
import { Drafts } from "./drafts.js";
import { Search } from "./search.js";
import { TagEditor } from "./tags.js";

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
const tagFilter = $("tag-filter");
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
const presenceLine = $("presence");
const closeButton = $("close-ticket");
const closedBar = $("closed-bar");
const undoBar = $("undo-bar");
const replyInput = $("reply-input");
const detailsPane = $("details");
const detailsToggle = $("details-toggle");
const settingsToggle = $("settings-toggle");
const ticketSettings = $("ticket-settings");

const LOGIN_URL = "/login?next=%2Fdashboard";
const STATUS_LABELS = { open: "Open", pending: "Pending", resolved: "Resolved", closed: "Closed" };
const PRIORITY_LABELS = { low: "Low", normal: "Normal", high: "High", urgent: "Urgent" };
const TICKET_PATH = /^\/dashboard\/tickets\/([0-9a-f]{24})\/?$/;
const UNDO_SECONDS = 5;
const TYPING_EXPIRE_MS = 8000;

const queue = {
  tickets: new Map(), // id -> ticket, only those matching the filter
  // id -> the newest state seen of every ticket, in the queue or not: states arrive out of
  // order (live events, answers, pages fetched while events flow), and an older one must
  // not bring back what a newer one changed (a closed ticket reappearing as open).
  newest: new Map(),
  // id -> how many guest messages the agent had seen: the row's unread count is the
  // ticket's guest_messages beyond it (counted from when this page first saw the ticket).
  seen: new Map(),
  nextCursor: null,
  loading: false,
  buffered: null, // ticket:updated events that arrive while the queue is (re)loading
  request: 0,
};
let openId = null;

const wide = window.matchMedia("(min-width: 1200px)");
const phoneWidth = window.matchMedia("(max-width: 640px)");

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
  onTicket: (ticket) => {
    renderTicketHeader(ticket);
    details.update(ticket);
  },
  onError: (error) => showPaneError(error.message),
});

const agents = new Map(); // id -> {id, name, role}: who a ticket can be assigned to
const drafts = new Drafts(me.id);
const alerts = new Alerts({
  soundBox: $("alert-sound"),
  desktopButton: $("alert-desktop"),
  desktopState: $("alert-desktop-state"),
});
const details = new Details({
  onOpenTicket: (id) => openTicket(id),
  nameOf: (id) => agents.get(id)?.name ?? "someone no longer active",
});

// ------------------------------------------------------------------ composer and drafts

// The "Note" toggle: the next message is an internal note, seen by agents only. Each ticket
// keeps its own reply and note texts and mode (drafts.js).
const noteToggle = $("note-toggle");
const replyForm = $("reply-form");
const sendLabel = replyForm.querySelector(".composer__send-label");
let replyPlaceholder = replyInput.placeholder;

function noteMode() {
  return noteToggle.getAttribute("aria-pressed") === "true";
}

function setNoteMode(on, { swap = true } = {}) {
  if (swap && openId && on !== noteMode()) {
    // The box shows the text of the mode: keep this one, bring the other's back.
    drafts.set(openId, { [noteMode() ? "note" : "reply"]: replyInput.value, mode: on ? "note" : "reply" });
    const draft = drafts.get(openId);
    replyInput.value = on ? draft.note : draft.reply;
  }
  conversation.stopTyping();
  conversation.typingNote = on; // other agents hear "writing a note", the guest nothing
  noteToggle.setAttribute("aria-pressed", on ? "true" : "false");
  replyForm.classList.toggle("composer--note", on);
  replyInput.placeholder = on ? "Internal note: only agents see this…" : replyPlaceholder;
  sendLabel.textContent = on ? "Add note" : "Send";
}

noteToggle.addEventListener("click", () => {
  setNoteMode(!noteMode());
  replyInput.focus();
});

const composer = bindComposer({
  form: replyForm,
  input: replyInput,
  button: $("reply-send"),
  onSend: (body) => {
    const kind = noteMode() ? "note" : "message";
    const ticketId = openId;
    drafts.set(ticketId, { [kind === "note" ? "note" : "reply"]: "" });
    conversation.send(body, { kind });
    if (kind === "note") setNoteMode(false); // a note is a one-off: back to replying
  },
  onInput: (value) => {
    if (openId) drafts.set(openId, { [noteMode() ? "note" : "reply"]: value });
    conversation.noteTyping(value);
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

/** Show the open ticket's draft in the composer (its text and its mode). */
function loadDraft(ticketId) {
  const draft = drafts.get(ticketId);
  setNoteMode(draft.mode === "note", { swap: false });
  replyInput.value = draft.mode === "note" ? draft.note : draft.reply;
}

const canned = new CannedMenu({
  form: replyForm,
  input: replyInput,
  menu: $("canned-menu"),
  list: $("canned-options"),
  status: $("canned-status"),
  context: () => ({ ticket: conversation.ticket ?? queue.newest.get(openId), agent: me }),
});

// ------------------------------------------------------------------ socket events

bindBell(socket, {
  onNew(notification) {
    if (notification?.kind !== "assigned") return;
    alerts.notify({
      title: "Assigned to you",
      body: notification.text,
      tag: `assigned:${notification.ticket_id}`,
      onClick: () => notification.ticket_id && openTicket(notification.ticket_id),
    });
  },
});

socket.on("message:new", (message) => conversation.receive(message));
socket.on("typing", (event) => {
  if (event?.role === "agent") presence.typing(event);
  else conversation.receiveTyping(event);
});
socket.on("ticket:viewers", (event) => presence.viewers(event));
// Messages moving tickets in the queue arrive batched: one frame per interval with the
// newest state of every ticket that moved. Each is kept only if newer than what we hold.
socket.on("queue:updated", (batch) => {
  const tickets = Array.isArray(batch?.tickets) ? batch.tickets : [];
  for (const ticket of tickets) {
    conversation.updateTicket(ticket);
    applyTicket(ticket, { render: false });
  }
  if (tickets.length) renderQueue();
});
socket.on("ticket:updated", (ticket) => {
  const isNew = ticket?.id && !queue.newest.has(ticket.id) && ticket.version === 1;
  conversation.updateTicket(ticket);
  applyTicket(ticket, { isNew });
  if (isNew) {
    alerts.notify({
      title: `New chat from ${ticket.guest_name || "a guest"}`,
      body: ticket.subject ?? "",
      tag: `ticket:${ticket.id}`,
      onClick: () => openTicket(ticket.id),
    });
  }
});

watchConnection(socket, banner, {
  onConnect(first) {
    // Subscribed first (the handshake puts us in the agents room), then fetch: no
    // ticket:updated can fall between the two.
    loadQueue();
    loadAgents();
    loadTags();
    if (first) openFromAddress({ replace: true });
    else if (openId) resume();
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

/** The query of the queue: status, assignee (me, none or an id), priority and tag. */
function queueQuery() {
  const query = { status: currentFilter() ?? undefined };
  if (assigneeFilter.value !== "all") query.assignee = assigneeFilter.value;
  if (priorityFilter.value !== "all") query.priority = priorityFilter.value;
  if (tagFilter.value) query.tag = tagFilter.value;
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
  if (tagFilter.value && !(ticket.tags ?? []).includes(tagFilter.value)) return false;
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

function unreadOf(ticket) {
  const seen = queue.seen.get(ticket.id);
  return seen === undefined ? 0 : Math.max(0, (ticket.guest_messages ?? 0) - seen);
}

/** First sight of a ticket: what it holds now counts as read, unless it is brand new. */
function noteSeen(ticket, { isNew = false } = {}) {
  if (isNew) queue.seen.set(ticket.id, 0);
  else if (!queue.seen.has(ticket.id) || isInView(ticket.id)) queue.seen.set(ticket.id, ticket.guest_messages ?? 0);
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
      noteSeen(ticket);
      if (ticket === fetched || matchesFilter(ticket)) queue.tickets.set(ticket.id, ticket);
    }
    queue.nextCursor = data.next_cursor ?? null;
    const buffered = queue.buffered;
    queue.buffered = null;
    queue.loading = false;
    for (const [ticket, options] of buffered.values()) applyTicket(ticket, options);
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
      noteSeen(ticket);
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
function applyTicket(ticket, { isNew = false, render = true } = {}) {
  if (!ticket?.id) return;
  if (newestState(ticket) !== ticket) return; // overtaken by a newer state
  noteSeen(ticket, { isNew: isNew && !queue.seen.has(ticket.id) });
  if (queue.loading && queue.buffered) {
    queue.buffered.set(ticket.id, [ticket, { isNew }]);
    return;
  }
  if (matchesFilter(ticket)) queue.tickets.set(ticket.id, ticket);
  else queue.tickets.delete(ticket.id);
  for (const tag of ticket.tags ?? []) addTagOption(tag);
  if (render) renderQueue();
}

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

  if (!search.active) {
    const label = statusFilter.selectedOptions[0]?.textContent.toLowerCase() ?? "";
    const narrowed = assigneeFilter.value !== "all" || priorityFilter.value !== "all" || tagFilter.value;
    if (!tickets.length && !queue.loading) {
      if (narrowed) setQueueStatus("No tickets match these filters.");
      else setQueueStatus(label === "all" ? "No tickets yet." : `No ${label} tickets.`);
    } else if (tickets.length) {
      setQueueStatus(null);
    }
    queueMore.hidden = !queue.nextCursor;
  }
  queueCount.textContent = tickets.length ? `${tickets.length}${queue.nextCursor ? "+" : ""}` : "";

  const unread = tickets.reduce((sum, ticket) => sum + unreadOf(ticket), 0);
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
  const unread = document.createElement("span");
  unread.className = "unread-count";
  const time = document.createElement("span");
  time.className = "ticket-row__time";
  top.append(name, unread, time);
  const subject = document.createElement("span");
  subject.className = "ticket-row__subject";
  const bottom = document.createElement("span");
  bottom.className = "ticket-row__bottom";
  const preview = document.createElement("span");
  preview.className = "ticket-row__preview";
  const status = document.createElement("span");
  status.className = "badge";
  bottom.append(preview, status);
  const tags = document.createElement("span");
  tags.className = "ticket-row__tags";
  button.append(top, subject, bottom, tags);
  li.append(button);
  return li;
}

function fillQueueItem(button, ticket) {
  button.dataset.ticketId = ticket.id;
  button.dataset.status = ticket.status;
  const unread = unreadOf(ticket);
  button.classList.toggle("ticket-row--unread", unread > 0);
  button.classList.toggle("ticket-row--urgent", ticket.priority === "urgent" || ticket.priority === "high");
  if (ticket.id === openId) button.setAttribute("aria-current", "true");
  else button.removeAttribute("aria-current");

  button.querySelector(".ticket-row__name").textContent = ticket.guest_name || "Guest";
  const count = button.querySelector(".unread-count");
  count.hidden = !unread;
  count.replaceChildren();
  if (unread) {
    const hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = ` new ${unread === 1 ? "message" : "messages"}`;
    count.append(String(unread), hidden);
  }
  const when = ticket.last_message_at ?? ticket.updated_at ?? ticket.created_at;
  button.querySelector(".ticket-row__time").replaceChildren(timeElement(when, formatRelative(when)));
  button.querySelector(".ticket-row__subject").textContent = ticket.subject || "(no subject)";
  button.querySelector(".ticket-row__preview").textContent = ticket.last_message_preview ?? "";
  const status = button.querySelector(".badge");
  status.className = `badge badge--${ticket.status}`;
  status.textContent = STATUS_LABELS[ticket.status] ?? ticket.status;
  const tags = button.querySelector(".ticket-row__tags");
  tags.replaceChildren(...(ticket.tags ?? []).slice(0, 4).map((tag) => {
    const chip = document.createElement("span");
    chip.className = "tag tag--small";
    chip.textContent = tag;
    return chip;
  }));
  tags.hidden = !(ticket.tags ?? []).length;
}

queueList.addEventListener("click", (event) => {
  const button = event.target.closest("[data-ticket-id]");
  if (button) openTicket(button.dataset.ticketId);
});

// Up/Down move between rows (Enter and Space open, as for any button).
for (const list of [queueList, $("search-list")]) {
  list.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const rows = [...list.querySelectorAll("[data-ticket-id]")];
    const index = rows.indexOf(document.activeElement);
    if (index < 0) return;
    event.preventDefault();
    rows[Math.max(0, Math.min(rows.length - 1, index + (event.key === "ArrowDown" ? 1 : -1)))].focus();
  });
}

for (const filter of [statusFilter, assigneeFilter, priorityFilter, tagFilter]) {
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

// ------------------------------------------------------------------ tags in use

const knownTags = new Set();

function addTagOption(tag) {
  if (knownTags.has(tag)) return;
  knownTags.add(tag);
  const sorted = [...knownTags].sort();
  const option = document.createElement("option");
  option.value = tag;
  option.textContent = tag;
  const after = sorted[sorted.indexOf(tag) + 1];
  const before = after ? tagFilter.querySelector(`option[value="${CSS.escape(after)}"]`) : null;
  tagFilter.insertBefore(option, before);
  tagEditor.setSuggestions(sorted);
}

async function loadTags() {
  try {
    const { tags } = await api("/api/tags");
    for (const tag of tags ?? []) addTagOption(tag);
  } catch (error) {
    authLost(error);
  }
}

const tagEditor = new TagEditor({
  list: $("tag-list"),
  form: $("tag-form"),
  input: $("tag-input"),
  button: $("tag-add"),
  datalist: $("tag-suggestions"),
  change: async (change) => {
    const { ticket } = await ask(socket, "ticket:update", { ticket_id: openId, ...change });
    conversation.updateTicket(ticket);
    applyTicket(ticket);
  },
  onError: showPaneError,
});

// ------------------------------------------------------------------ search

const search = new Search({
  form: $("search-form"),
  input: $("search-input"),
  panel: $("search-results"),
  list: $("search-list"),
  more: $("search-more"),
  status: setQueueStatus,
  isCurrent: (id) => id === openId,
  onActive(active) {
    queueList.hidden = active;
    $("queue-filters").hidden = active;
    queueMore.hidden = active || !queue.nextCursor;
    if (!active) {
      setQueueStatus(null);
      renderQueue();
    }
  },
  onOpen: (id) => openTicket(id),
});

// ------------------------------------------------------------------ who else is here

const presence = {
  ticketId: null,
  others: [], // the other agents with the open ticket open
  typers: new Map(), // name -> {note, timer}

  reset(ticketId, viewers = []) {
    this.ticketId = ticketId;
    for (const typer of this.typers.values()) clearTimeout(typer.timer);
    this.typers.clear();
    this.setViewers(viewers);
  },

  setViewers(viewers) {
    this.others = (viewers ?? []).filter((viewer) => viewer.id !== me.id);
    // Someone who left is not writing any more (their "stopped" may never come).
    const here = new Set(this.others.map((viewer) => viewer.name));
    for (const [name, typer] of this.typers) {
      if (!here.has(name)) {
        clearTimeout(typer.timer);
        this.typers.delete(name);
      }
    }
    this.render();
  },

  viewers(event) {
    if (event?.ticket_id === this.ticketId) this.setViewers(event.viewers);
  },

  typing(event) {
    if (event?.ticket_id !== this.ticketId || !event.name || event.name === me.name) return;
    clearTimeout(this.typers.get(event.name)?.timer);
    if (event.typing) {
      const timer = setTimeout(() => {
        this.typers.delete(event.name);
        this.render();
      }, TYPING_EXPIRE_MS);
      this.typers.set(event.name, { note: Boolean(event.note), timer });
    } else {
      this.typers.delete(event.name);
    }
    this.render();
  },

  render() {
    const parts = [];
    if (this.others.length) {
      parts.push(`Also here: ${this.others.map((viewer) => viewer.name).join(", ")}.`);
    }
    for (const [name, typer] of this.typers) {
      parts.push(`${name} is ${typer.note ? "writing a note" : "typing a reply"}…`);
    }
    presenceLine.textContent = parts.join(" ");
    presenceLine.hidden = !parts.length;
    presenceLine.classList.toggle("presence--typing", this.typers.size > 0);
  },
};

// ------------------------------------------------------------------ conversation pane

/** The ticket in the address bar: /dashboard/tickets/<id>, or the older ?ticket=<id>. */
function ticketInAddress() {
  const match = TICKET_PATH.exec(window.location.pathname);
  if (match) return match[1];
  const linked = new URLSearchParams(window.location.search).get("ticket");
  return linked && /^[0-9a-f]{24}$/.test(linked) ? linked : null;
}

function setAddress(ticketId, { replace = false } = {}) {
  const path = ticketId ? `/dashboard/tickets/${ticketId}` : "/dashboard";
  if (window.location.pathname === path && !window.location.search) return;
  const state = { ticketId };
  if (replace) window.history.replaceState(state, "", path);
  else window.history.pushState(state, "", path);
}

function openFromAddress({ replace = false } = {}) {
  const ticketId = ticketInAddress();
  if (ticketId) {
    openTicket(ticketId, { address: replace ? "replace" : "none" });
  } else {
    closeConversation();
  }
}

window.addEventListener("popstate", () => openFromAddress());

async function openTicket(ticketId, { address = "push" } = {}) {
  if (address === "push") setAddress(ticketId);
  else if (address === "replace") setAddress(ticketId, { replace: true });
  if (ticketId === openId && !pane.hidden) {
    root.dataset.view = "conversation";
    markRead(ticketId);
    return;
  }
  canned.close();
  openId = ticketId;
  presence.reset(ticketId);
  root.dataset.view = "conversation";
  markRead(ticketId);
  search.markCurrent(ticketId);

  emptyPane.hidden = true;
  pane.hidden = false;
  showPaneError(null);
  composer.setEnabled(false);
  loadDraft(ticketId);
  closeButton.disabled = true;
  closeButton.hidden = false;
  closedBar.hidden = true;
  renderUndo();
  setSettingsOpen(false);
  // Beside the conversation when there is room (as last chosen); else it waits for a click.
  setDetailsOpen(wide.matches && detailsWanted, { remember: false });
  const known = queue.newest.get(ticketId);
  if (known) renderTicketHeader(known);
  else {
    paneTitle.textContent = "Loading…";
    paneSubject.textContent = "";
  }
  if (phoneWidth.matches) paneTitle.focus();

  try {
    const answer = await conversation.open(ticketId);
    if (openId !== ticketId || !answer) return;
    details.show(answer);
    presence.reset(ticketId, conversation.lastJoin?.viewers);
  } catch (error) {
    if (openId !== ticketId || error.code === "disconnected") return;
    if (authLost(error)) return;
    showPaneError(`Could not open this conversation. ${error.message}`);
  }
}

/** After a reconnect: join the open ticket again (and hear who else is in it). */
async function resume() {
  await conversation.resume();
  if (openId && conversation.ticket) details.update(conversation.ticket);
}

function closeConversation() {
  if (openId) conversation.close();
  openId = null;
  presence.reset(null);
  details.clear();
  canned.close();
  pane.hidden = true;
  emptyPane.hidden = false;
  root.dataset.view = "queue";
  search.markCurrent(null);
  renderQueue();
}

function markRead(ticketId) {
  const ticket = queue.newest.get(ticketId);
  if (ticket && isInView(ticketId)) queue.seen.set(ticketId, ticket.guest_messages ?? 0);
  renderQueue();
}

function renderTicketHeader(ticket) {
  if (ticket.id !== openId) return;
  if (isInView(ticket.id)) queue.seen.set(ticket.id, ticket.guest_messages ?? 0);
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
  tagEditor.render(ticket.tags ?? [], Boolean(joined));
  closedBar.hidden = !closed;
  closeButton.hidden = closed;
  const closing = pendingCloses.has(ticket.id);
  closeButton.disabled = closed || !joined || closing; // the undo bar says it is closing
  composer.setEnabled(Boolean(joined) && !closed);
  noteToggle.disabled = !joined || closed;
  replyPlaceholder = `Reply to ${ticket.guest_name || "the guest"}…`;
  if (!noteMode()) replyInput.placeholder = replyPlaceholder;
  if (closed && noteMode()) setNoteMode(false);
  if (closed) canned.close();
}

function showPaneError(text) {
  paneError.textContent = text ?? "";
  paneError.hidden = !text;
}

// ------------------------------------------------------------------ close, undo, reopen

// Closing waits five seconds before it is sent, with "Undo" in the meantime: the guest
// never sees a close that was taken back, and no e-mail or notification goes out for it.
// The server stays the source of truth: nothing shows as closed until it has answered.
// A page that goes away meanwhile sends its closes at once (pagehide).
const pendingCloses = new Map(); // ticket id -> {timer, deadline}

function startClose(ticketId) {
  if (!ticketId || pendingCloses.has(ticketId)) return;
  const ticket = queue.newest.get(ticketId) ?? conversation.ticket;
  if (ticket?.status === "closed") return;
  conversation.stopTyping();
  const deadline = Date.now() + UNDO_SECONDS * 1000;
  const timer = setTimeout(() => sendClose(ticketId), UNDO_SECONDS * 1000);
  pendingCloses.set(ticketId, { timer, deadline });
  renderUndo();
  if (conversation.ticket) renderTicketHeader(conversation.ticket);
  $("undo-close").focus();
}

function undoClose(ticketId) {
  const pending = pendingCloses.get(ticketId);
  if (!pending) return;
  clearTimeout(pending.timer);
  pendingCloses.delete(ticketId);
  renderUndo();
  if (conversation.ticket) renderTicketHeader(conversation.ticket);
  closeButton.focus();
}

async function sendClose(ticketId) {
  pendingCloses.delete(ticketId);
  renderUndo();
  try {
    const { ticket } = await ask(socket, "ticket:close", { ticket_id: ticketId });
    conversation.updateTicket(ticket);
    applyTicket(ticket);
  } catch (error) {
    if (openId === ticketId) showPaneError(`Could not close the ticket. ${error.message}`);
  } finally {
    if (openId === ticketId && conversation.ticket) renderTicketHeader(conversation.ticket);
  }
}

let undoTicker = null;

function renderUndo() {
  const pending = openId ? pendingCloses.get(openId) : null;
  undoBar.hidden = !pending;
  clearInterval(undoTicker);
  if (!pending) return;
  const tick = () => {
    const left = Math.max(0, Math.ceil((pending.deadline - Date.now()) / 1000));
    $("undo-text").textContent = `Closing this conversation in ${left} ${left === 1 ? "second" : "seconds"}…`;
  };
  tick();
  undoTicker = setInterval(tick, 1000);
}

closeButton.addEventListener("click", () => startClose(openId));
$("undo-close").addEventListener("click", () => undoClose(openId));

window.addEventListener("pagehide", () => {
  for (const [ticketId, pending] of pendingCloses) {
    clearTimeout(pending.timer);
    if (socket.connected) socket.emit("ticket:close", { ticket_id: ticketId }, () => {});
  }
  pendingCloses.clear();
});

$("reopen-ticket").addEventListener("click", async () => {
  const ticketId = openId;
  if (!ticketId) return;
  showPaneError(null);
  try {
    const { ticket } = await ask(socket, "ticket:update", { ticket_id: ticketId, status: "open" });
    conversation.updateTicket(ticket);
    applyTicket(ticket);
    replyInput.focus();
  } catch (error) {
    if (openId === ticketId) showPaneError(`Could not reopen the ticket. ${error.message}`);
  }
});

// ------------------------------------------------------------------ status, priority, assignee

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

// ------------------------------------------------------------------ panels

function setDetailsOpen(open, { remember = true } = {}) {
  detailsPane.hidden = !open;
  detailsToggle.setAttribute("aria-expanded", open ? "true" : "false");
  $("conversation-body").dataset.details = open ? "open" : "closed";
  if (remember && open) $("details-heading").focus?.();
}

let detailsWanted = true;

detailsToggle.addEventListener("click", () => {
  const open = detailsPane.hidden;
  if (wide.matches) detailsWanted = open;
  setDetailsOpen(open);
});
$("details-close").addEventListener("click", () => {
  if (wide.matches) detailsWanted = false;
  setDetailsOpen(false);
  detailsToggle.focus();
});

// On a phone the ticket's status, priority, assignee and tags fold away under "Ticket".
function setSettingsOpen(open) {
  settingsToggle.setAttribute("aria-expanded", open ? "true" : "false");
  ticketSettings.classList.toggle("ticket-settings--open", open);
}

settingsToggle.addEventListener("click", () =>
  setSettingsOpen(settingsToggle.getAttribute("aria-expanded") !== "true"),
);

$("back-to-queue").addEventListener("click", () => {
  const ticketId = openId;
  setAddress(null);
  closeConversation();
  queueList.querySelector(`[data-ticket-id="${CSS.escape(ticketId ?? "")}"]`)?.focus();
});

// ------------------------------------------------------------------ availability

const availability = $("availability");
availability?.addEventListener("click", async () => {
  const next = availability.getAttribute("aria-checked") === "true" ? "away" : "online";
  availability.disabled = true;
  try {
    const answer = await api("/api/me/availability", { method: "PUT", body: { availability: next } });
    const online = answer.availability !== "away";
    availability.setAttribute("aria-checked", online ? "true" : "false");
    $("availability-label").textContent = online ? "Online" : "Away";
    root.dataset.availability = answer.availability;
  } catch (error) {
    if (!authLost(error)) setQueueStatus(`Could not change your availability. ${error.message}`);
  } finally {
    availability.disabled = false;
  }
});

// ------------------------------------------------------------------ keyboard

const shortcuts = $("shortcuts");
$("shortcuts-open").addEventListener("click", () => shortcuts.showModal());

function isTyping(target) {
  return target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

/** j / k: the next or previous ticket of the list in view (queue or search results). */
function stepTicket(step) {
  const list = search.active ? $("search-list") : queueList;
  const rows = [...list.querySelectorAll("[data-ticket-id]")];
  if (!rows.length) return;
  const index = rows.findIndex((row) => row.dataset.ticketId === openId);
  const next = rows[index < 0 ? (step > 0 ? 0 : rows.length - 1) : Math.max(0, Math.min(rows.length - 1, index + step))];
  openTicket(next.dataset.ticketId);
  next.scrollIntoView({ block: "nearest" });
}

function writeIn(mode) {
  if (!openId || replyInput.disabled) return;
  setNoteMode(mode === "note");
  replyInput.focus();
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || shortcuts.open) return;
  if (event.key === "Escape" && event.target === replyInput && !canned.open) {
    replyInput.blur(); // back to the shortcuts
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
  const actions = {
    j: () => stepTicket(1),
    k: () => stepTicket(-1),
    r: () => writeIn("reply"),
    n: () => writeIn("note"),
    e: () => !closeButton.disabled && !closeButton.hidden && startClose(openId),
    "/": () => search.focus(),
    "?": () => shortcuts.showModal(),
  };
  const action = actions[event.key];
  if (!action) return;
  event.preventDefault();
  action();
});

// ------------------------------------------------------------------ sign out

$("sign-out").addEventListener("click", async (event) => {
  event.currentTarget.disabled = true;
  drafts.clearAll(); // unsent replies do not stay behind on a shared computer
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
  if (document.visibilityState === "visible" && openId) markRead(openId);
});
