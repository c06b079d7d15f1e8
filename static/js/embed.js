// Put the support chat on any web page:
//   <script src="https://support.example.com/static/js/embed.js" defer></script>
// Adds a "Chat with us" button that opens the widget in an iframe served by this server,
// so the guest's cookie and socket stay on the support server's origin.
(() => {
  const script = document.currentScript;
  if (!script || window.__supportChatEmbedded) return;
  window.__supportChatEmbedded = true;
  const origin = new URL(script.src).origin;
  const label = script.dataset.label || "Chat with us";

  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.setAttribute("aria-expanded", "false");
  Object.assign(button.style, {
    position: "fixed", right: "20px", bottom: "20px", zIndex: "2147483646",
    padding: "12px 18px", border: "0", borderRadius: "999px", cursor: "pointer",
    font: "600 15px system-ui, sans-serif", color: "#fff", background: "#2563eb",
    boxShadow: "0 6px 20px rgba(0,0,0,.2)",
  });

  let frame = null;
  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = `${origin}/widget`;
      frame.title = "Support chat";
      Object.assign(frame.style, {
        position: "fixed", right: "20px", bottom: "76px", zIndex: "2147483647",
        width: "min(380px, calc(100vw - 40px))", height: "min(600px, calc(100vh - 120px))",
        border: "0", borderRadius: "14px", boxShadow: "0 12px 40px rgba(0,0,0,.25)",
        background: "#fff",
      });
      document.body.appendChild(frame);
    }
    frame.style.display = "block";
    button.setAttribute("aria-expanded", "true");
    button.textContent = "Close chat";
  }
  function close() {
    frame.style.display = "none";
    button.setAttribute("aria-expanded", "false");
    button.textContent = label;
    button.focus();
  }
  button.addEventListener("click", () => (frame && frame.style.display !== "none" ? close() : open()));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && frame && frame.style.display !== "none") close();
  });
  document.body.appendChild(button);
})();
