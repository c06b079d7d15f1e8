// /admin/privacy: download everything held about a guest, or erase it (after a confirmation).
import { api } from "./chat-core.js";

const $ = (id) => document.getElementById(id);
const input = $("lookup");
const errorBox = $("privacy-error");
const okBox = $("privacy-ok");
const confirmBox = $("erase-confirm");
const sure = $("erase-sure");
const go = $("erase-go");

function count(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function lookup() {
  // An id is 24 hexadecimal digits; anything else is taken as an e-mail address.
  const value = input.value.trim();
  return /^[0-9a-f]{24}$/i.test(value) ? { ticket_id: value.toLowerCase() } : { email: value };
}

function say(box, text) {
  errorBox.hidden = true;
  okBox.hidden = true;
  box.textContent = text;
  box.hidden = false;
}

$("lookup-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const exported = await api("/api/admin/privacy/export", { query: lookup() });
    const blob = new Blob([JSON.stringify(exported, null, 2)], { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "guest-export.json";
    document.body.append(link);
    link.click();
    link.remove();
    URL.revokeObjectURL(link.href);
    say(okBox, `Downloaded: ${count(exported.tickets.length, "conversation")}, ${count(exported.audit_events.length, "audit event")}.`);
  } catch (failure) {
    say(errorBox, failure.message);
  }
});

$("erase-start").addEventListener("click", () => {
  if (!input.value.trim()) {
    say(errorBox, "Give an e-mail address or a conversation id first.");
    input.focus();
    return;
  }
  $("erase-who").textContent = input.value.trim();
  sure.checked = false;
  go.disabled = true;
  confirmBox.hidden = false;
  sure.focus();
});

sure.addEventListener("change", () => {
  go.disabled = !sure.checked;
});

$("erase-cancel").addEventListener("click", () => {
  confirmBox.hidden = true;
});

go.addEventListener("click", async () => {
  go.disabled = true;
  try {
    const erased = await api("/api/admin/privacy/erase", { method: "POST", body: lookup() });
    confirmBox.hidden = true;
    say(okBox, `Erased: ${count(erased.tickets.length, "conversation")}, ${count(erased.messages, "message")}.`);
  } catch (failure) {
    go.disabled = false;
    say(errorBox, failure.message);
  }
});
