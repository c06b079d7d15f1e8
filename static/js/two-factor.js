// /two-factor: set up two-factor sign-in. Ask the server for a new secret (its QR code is
// made there), confirm it with one code from the app, then show the backup codes once.
import { api } from "./chat-core.js";
import { safeNext } from "./next.js";

const $ = (id) => document.getElementById(id);
const root = $("two-factor");
const next = safeNext(root.dataset.next, "/account");
const qrBox = $("qr");
const form = $("confirm-form");
const input = $("confirm-code");
const button = $("confirm-button");
const errorBox = $("confirm-error");

function showError(text) {
  errorBox.textContent = text ?? "";
  errorBox.hidden = !text;
  if (text) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

function showQr(svgText) {
  // The server's own markup (segno): parsed, not assigned as HTML, and given a name.
  const parsed = new DOMParser().parseFromString(svgText, "text/html");
  const svg = parsed.querySelector("svg");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "QR code to scan with your authenticator app");
  qrBox.replaceChildren(document.importNode(svg, true));
  qrBox.removeAttribute("aria-busy");
}

async function begin() {
  try {
    const setup = await api("/api/account/two-factor/setup", { method: "POST" });
    showQr(setup.qr_svg);
    $("secret").textContent = setup.secret.match(/.{1,4}/g).join(" ");
    button.disabled = false;
  } catch (error) {
    if (error.status === 401) return window.location.assign("/login");
    qrBox.removeAttribute("aria-busy");
    showError(error.message);
  }
}

function showBackupCodes(codes) {
  $("backup-codes").replaceChildren(...codes.map((code) => {
    const item = document.createElement("li");
    item.className = "backup-codes__code";
    item.textContent = code;
    return item;
  }));
  $("setup-step").hidden = true;
  $("codes-step").hidden = false;
  $("codes-heading").focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const code = input.value.replace(/\s/g, "");
  if (!code) {
    showError("Enter the 6-digit code your app shows.");
    return input.focus();
  }
  showError(null);
  button.disabled = true;
  try {
    const answer = await api("/api/account/two-factor/enable", { method: "POST", body: { code } });
    showBackupCodes(answer.backup_codes);
  } catch (error) {
    button.disabled = false;
    if (error.status === 401) return window.location.assign("/login");
    showError(error.message);
    input.select();
  }
});

$("codes-done").addEventListener("click", () => window.location.assign(next));

begin();
