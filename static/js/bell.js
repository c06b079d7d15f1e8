// The notification bell on every agent page: the unread count, kept live over the socket
// (notification:count is sent to every tab of this agent after each change).
import { api } from "./chat-core.js";

export function bindBell(socket, { onNew, onUpdated } = {}) {
  const link = document.getElementById("bell");
  const count = document.getElementById("bell-count");
  let pushed = 0; // counts received live; a fetch that started before one is stale

  function show(unread) {
    const n = Number(unread) || 0;
    count.textContent = n > 99 ? "99+" : String(n);
    count.hidden = n === 0;
    link.setAttribute("aria-label", n ? `Notifications, ${n} unread` : "Notifications");
    link.dataset.unread = String(n);
  }

  async function refresh() {
    const seen = pushed;
    try {
      const data = await api("/api/notifications/unread-count");
      if (seen === pushed) show(data.unread);
    } catch {
      // The next live count will correct it.
    }
  }

  socket.on("notification:count", (data) => {
    pushed += 1;
    show(data?.unread);
  });
  socket.on("notification:new", (notification) => onNew?.(notification));
  socket.on("notification:updated", (notification) => onUpdated?.(notification));
  socket.on("connect", refresh); // first connection and every reconnection
  return { show, refresh };
}
