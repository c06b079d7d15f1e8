// Put the support chat on any web page:
//   <script src="https://support.example.com/static/js/embed.js" defer></script>
// (data-label: the button's text; data-lang: "en" or "de", else the browser's language.)
// A "Chat with us" button opens the widget in an iframe served by this server. Until it is
// opened, the page loads nothing else: the unread badge is one small GET with a token that
// reads the guest's unread count and nothing more, kept in this site's storage.
(() => {
  const script = document.currentScript;
  if (!script || window.__supportChatEmbedded) return;
  window.__supportChatEmbedded = true;
  const origin = new URL(script.src).origin;
  const label = script.dataset.label || "Chat with us";
  const lang = script.dataset.lang;
  const KEY = "support-chat:badge";
  const IDENTITY = "support-chat:identity"; // only when the widget's own storage is refused
  const read = (key) => {
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  };

  const button = document.createElement("button");
  button.type = "button";
  button.setAttribute("aria-expanded", "false");
  Object.assign(button.style, {
    position: "fixed", right: "20px", bottom: "20px", zIndex: "2147483646",
    padding: "12px 18px", border: "0", borderRadius: "999px", cursor: "pointer",
    font: "600 15px system-ui, sans-serif", color: "#fff", background: "#1d4ed8",
    boxShadow: "0 6px 20px rgba(0,0,0,.2)",
  });
  const text = document.createElement("span");
  text.textContent = label;
  const badge = document.createElement("span");
  badge.className = "support-chat-badge";
  Object.assign(badge.style, {
    display: "none", marginLeft: "8px", padding: "1px 7px", borderRadius: "999px",
    background: "#b91c1c", color: "#fff", font: "700 13px system-ui, sans-serif",
  });
  button.append(text, badge);

  function showUnread(count) {
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.style.display = count > 0 ? "inline-block" : "none";
    if (count > 0) button.setAttribute("aria-label", `${label} (${count} unread)`);
    else button.removeAttribute("aria-label");
  }

  let frame = null;
  let ready = false; // the widget has loaded: before, the frame holds about:blank
  const isOpen = () => frame && frame.style.display !== "none";
  const tell = (message) => ready && frame.contentWindow.postMessage(message, origin);
  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      const identity = read(IDENTITY);
      frame.src = `${origin}/widget${lang ? `?lang=${encodeURIComponent(lang)}` : ""}${identity ? `#gt=${encodeURIComponent(identity)}` : ""}`;
      frame.title = "Support chat";
      Object.assign(frame.style, {
        position: "fixed", right: "20px", bottom: "76px", zIndex: "2147483647",
        width: "min(380px, calc(100vw - 40px))", height: "min(600px, calc(100vh - 120px))",
        border: "0", borderRadius: "14px", boxShadow: "0 12px 40px rgba(0,0,0,.25)",
        background: "#fff",
      });
      frame.addEventListener("load", () => {
        ready = true;
        tell({ type: "support-chat:context", page_url: location.href, page_title: document.title });
        tell({ type: "support-chat:panel", open: isOpen() });
      });
      document.body.appendChild(frame);
    }
    frame.style.display = "block";
    button.setAttribute("aria-expanded", "true");
    text.textContent = "Close chat";
    showUnread(0);
    tell({ type: "support-chat:panel", open: true });
  }
  function close() {
    frame.style.display = "none";
    button.setAttribute("aria-expanded", "false");
    text.textContent = label;
    tell({ type: "support-chat:panel", open: false });
    button.focus();
  }
  button.addEventListener("click", () => (isOpen() ? close() : open()));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && isOpen()) close();
  });
  window.addEventListener("message", (event) => {
    if (event.origin !== origin || !frame || event.source !== frame.contentWindow) return;
    const data = event.data || {};
    if ((data.type === "support-chat:badge" || data.type === "support-chat:identity") && typeof data.token === "string") {
      try {
        localStorage.setItem(data.type === "support-chat:badge" ? KEY : IDENTITY, data.token);
      } catch {}
    } else if (data.type === "support-chat:unread" && !isOpen()) {
      showUnread(Number(data.count) || 0);
    }
  });
  document.body.appendChild(button);

  const token = read(KEY);
  if (token) {
    fetch(`${origin}/api/guest/unread?badge=${encodeURIComponent(token)}`, { credentials: "omit" })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => {
        if (!data) return;
        if (/^#[0-9a-f]{6}$/i.test(data.color || "")) button.style.background = data.color;
        if (!isOpen()) showUnread(data.unread || 0);
      })
      .catch(() => {});
  }
})();
