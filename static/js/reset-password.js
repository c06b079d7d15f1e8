// /reset-password?token=...: set a new password with the e-mailed token.
import { bindJsonForm } from "./password-form.js";

const $ = (id) => document.getElementById(id);
const form = $("reset-form");
const token = form.dataset.token;
// Keep the token out of the address bar and history once the page has it.
window.history.replaceState(null, "", "/reset-password");
bindJsonForm({
  form, path: "/api/auth/reset-password",
  errorBox: $("reset-error"), okBox: $("reset-ok"), extra: () => ({ token }),
});
