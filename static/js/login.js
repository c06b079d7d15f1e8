// The agent sign-in page (/login): the password, then (with two-factor sign-in) a code.
import { api } from "./chat-core.js";
import { safeNext } from "./next.js";

const $ = (id) => document.getElementById(id);
const title = $("login-title");
const form = $("login-form");
const emailInput = $("email");
const passwordInput = $("password");
const button = $("login-button");
const errorBox = $("login-error");
const codeForm = $("code-form");
const codeInput = $("code");
const codeButton = $("code-button");
const codeError = $("code-error");
const next = safeNext(form.dataset.next, "/dashboard");
const TITLE = title.textContent;

function show(box, text, field, fields) {
  for (const input of fields) input.removeAttribute("aria-invalid");
  box.textContent = text ?? "";
  box.hidden = !text;
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

const showError = (text, field) => show(errorBox, text, field, [emailInput, passwordInput]);
const showCodeError = (text, field) => show(codeError, text, field, [codeInput]);

function busy(target, label) {
  target.disabled = Boolean(label);
  if (label) {
    target.dataset.label ??= target.textContent;
    target.textContent = label;
  } else if (target.dataset.label) {
    target.textContent = target.dataset.label;
  }
}

function askForCode() {
  form.hidden = true;
  codeForm.hidden = false;
  title.textContent = "Two-factor sign-in";
  showCodeError(null);
  codeInput.value = "";
  codeInput.focus();
}

function startAgain() {
  codeForm.hidden = true;
  form.hidden = false;
  title.textContent = TITLE;
  passwordInput.value = "";
  busy(button, null);
  passwordInput.focus();
}

function proceed(answer) {
  if (answer.stage === "code") return askForCode();
  if (answer.stage === "enrol") {
    // Two-factor sign-in is required and not set up yet: that comes first.
    return window.location.assign(`/two-factor?next=${encodeURIComponent(next)}`);
  }
  window.location.assign(next);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const email = emailInput.value.trim();
  const password = passwordInput.value;
  if (!email) return showError("Please enter your e-mail address.", emailInput);
  if (!password) return showError("Please enter your password.", passwordInput);
  showError(null);

  busy(button, "Signing in…");
  try {
    const answer = await api("/api/auth/login", { method: "POST", body: { email, password } });
    button.textContent = answer.stage === "active" ? "Signed in" : "Sign in";
    proceed(answer);
  } catch (error) {
    busy(button, null);
    if (error.status === 401) {
      showError(error.message || "The e-mail address or password is not right.", passwordInput);
      passwordInput.select();
    } else {
      showError(error.message);
    }
  }
});

codeForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const code = codeInput.value.trim();
  if (!code) return showCodeError("Please enter the code from your app.", codeInput);
  showCodeError(null);
  busy(codeButton, "Checking…");
  try {
    const answer = await api("/api/auth/code", { method: "POST", body: { code } });
    codeButton.textContent = "Signed in";
    proceed(answer);
  } catch (error) {
    busy(codeButton, null);
    if (error.status === 401) {
      // The half-open sign-in ended (it lasts ten minutes): back to the password.
      startAgain();
      showError(error.message);
    } else {
      showCodeError(error.message, error.status === 422 ? codeInput : null);
      codeInput.select();
    }
  }
});

$("code-cancel").addEventListener("click", async () => {
  try {
    await api("/api/auth/logout", { method: "POST" });
  } finally {
    startAgain();
  }
});
