// The notification inbox (/notifications): newest first, paged, live, marked read or unread.
import { api, connectSocket, formatRelative, timeElement, watchConnection } from "./chat-core.js";
import { bindBell } from "./bell.js";

const $ = (id) => document.getElementById(id);
const list = $("inbox");
const status = $("inbox-status");
const errorLine = $("inbox-error");
const more = $("inbox-more");
const unreadOnly = $("unread-only");
const readAll = $("read-all");
const LOGIN_URL = "/login?next=%2Fnotifications";

const held = new Map(); // id -> notification
let nextCursor = null;
let request = 0;

const socket = connectSocket();
const bell = bindBell(socket, {
  onNew(notification) {
    upsert(notification);
    render();
  },
  onUpdated(notification) {
    if (held.has(notification.id)) upsert(notification);
    render();
  },
});

watchConnection(socket, $("connection-banner"), {
  onConnect() {
    load(); // first time and after a reconnection: whatever was missed is in the first page
  },
  onRefused() {
    window.location.assign(LOGIN_URL);
  },
});

function showError(text) {
  errorLine.textContent = text ?? "";
  errorLine.hidden = !text;
}

function failed(error, what) {
  if (error?.status === 401) {
    window.location.assign(LOGIN_URL);
    return;
  }
  showError(`Could not ${what}. ${error.message}`);
}

function upsert(notification) {
  if (unreadOnly.checked && notification.read && !held.has(notification.id)) return;
  held.set(notification.id, notification);
}

async function load({ append = false } = {}) {
  const mine = ++request;
  const query = { limit: 30 };
  if (unreadOnly.checked) query.unread = "1";
  if (append && nextCursor) query.before = nextCursor;
  try {
    const data = await api("/api/notifications", { query });
    if (mine !== request) return;
    if (!append) held.clear();
    for (const notification of data.notifications ?? []) held.set(notification.id, notification);
    nextCursor = data.next_cursor ?? null;
    showError(null);
    render();
  } catch (error) {
    if (mine === request) failed(error, "load the notifications");
  }
}

function render() {
  const items = [...held.values()].sort(
    (a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || (a.id < b.id ? 1 : -1),
  );
  list.replaceChildren(...items.map(renderItem));
  status.textContent = items.length ? "" : unreadOnly.checked ? "No unread notifications." : "No notifications yet.";
  status.hidden = items.length > 0;
  more.hidden = !nextCursor;
}

function renderItem(notification) {
  const li = document.createElement("li");
  li.className = `inbox__item${notification.read ? "" : " inbox__item--unread"}`;
  li.dataset.notificationId = notification.id;
  const link = document.createElement("a");
  link.className = "inbox__link";
  link.href = notification.ticket_id ? `/dashboard/tickets/${encodeURIComponent(notification.ticket_id)}` : "/dashboard";
  link.textContent = notification.text;
  link.addEventListener("click", () => {
    if (!notification.read) mark(notification, true);
  });
  const when = timeElement(notification.created_at, formatRelative(notification.created_at), "inbox__time");
  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.className = "button button--subtle inbox__toggle-read";
  toggle.textContent = notification.read ? "Mark unread" : "Mark read";
  toggle.addEventListener("click", () => mark(notification, !notification.read));
  const state = document.createElement("span");
  state.className = "visually-hidden";
  state.textContent = notification.read ? "Read." : "Unread.";
  li.append(state, link, when, toggle);
  return li;
}

async function mark(notification, read) {
  try {
    const data = await api(`/api/notifications/${notification.id}/${read ? "read" : "unread"}`, {
      method: "POST",
    });
    held.set(data.notification.id, data.notification);
    bell.show(data.unread);
    render();
  } catch (error) {
    failed(error, "change the notification");
  }
}

readAll.addEventListener("click", async () => {
  readAll.disabled = true;
  try {
    const data = await api("/api/notifications/read-all", { method: "POST" });
    bell.show(data.unread);
    await load();
  } catch (error) {
    failed(error, "mark everything read");
  } finally {
    readAll.disabled = false;
  }
});

unreadOnly.addEventListener("change", () => {
  nextCursor = null;
  load();
});
more.addEventListener("click", () => load({ append: true }));
