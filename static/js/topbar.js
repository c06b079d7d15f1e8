// The top bar of every signed-in page (templates/_topbar.html): the person's menu, Sign out,
// and, unless the page's own script has a socket already (data-bell="page"), one socket
// that keeps the bell's count live. Other modules of the page share that socket:
//   import { topbarSocket } from "./topbar.js";
import { api, connectSocket } from "./chat-core.js";
import { bindBell } from "./bell.js";

const bar = document.querySelector("header.topbar");
const menu = document.getElementById("user-menu");
const signOut = document.getElementById("sign-out");

/** The page's socket when the top bar opened it, else null. */
export const topbarSocket = bar?.dataset.bell === "own" && document.getElementById("bell") ? connectSocket() : null;
if (topbarSocket) bindBell(topbarSocket);

// The menu is a <details>: open and closed by its summary (keyboard included); here it also
// closes on Escape, on a click elsewhere, and when focus leaves it.
if (menu) {
  const close = ({ focusSummary = false } = {}) => {
    if (!menu.open) return;
    menu.open = false;
    if (focusSummary) menu.querySelector("summary")?.focus();
  };
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close({ focusSummary: menu.contains(document.activeElement) });
  });
  document.addEventListener("click", (event) => {
    if (!menu.contains(event.target)) close();
  });
  menu.addEventListener("focusout", (event) => {
    if (event.relatedTarget && !menu.contains(event.relatedTarget)) close();
  });
}

if (signOut && signOut.dataset.handledBy !== "page") {
  signOut.addEventListener("click", async () => {
    signOut.disabled = true;
    try {
      await api("/api/auth/logout", { method: "POST" });
    } catch {
      // Signed out or not, the sign-in page is where to go next.
    }
    topbarSocket?.disconnect();
    window.location.assign("/login");
  });
}
