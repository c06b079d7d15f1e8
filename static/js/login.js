// The agent sign-in page (/login).
import { api } from "./chat-core.js";
import { safeNext } from "./next.js";

const form = document.getElementById("login-form");
const emailInput = document.getElementById("email");
const passwordInput = document.getElementById("password");
const button = document.getElementById("login-button");
const errorBox = document.getElementById("login-error");
const next = safeNext(form.dataset.next, "/dashboard");

function showError(text, field) {
  for (const input of [emailInput, passwordInput]) input.removeAttribute("aria-invalid");
  errorBox.textContent = text ?? "";
  errorBox.hidden = !text;
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const email = emailInput.value.trim();
  const password = passwordInput.value;
  if (!email) return showError("Please enter your e-mail address.", emailInput);
  if (!password) return showError("Please enter your password.", passwordInput);
  showError(null);

  button.disabled = true;
  button.textContent = "Signing in…";
  try {
    await api("/api/auth/login", { method: "POST", body: { email, password } });
    button.textContent = "Signed in";
    window.location.assign(next);
  } catch (error) {
    button.disabled = false;
    button.textContent = "Sign in";
    if (error.status === 401) {
      showError(error.message || "The e-mail address or password is not right.", passwordInput);
      passwordInput.select();
    } else {
      showError(error.message);
    }
  }
});
