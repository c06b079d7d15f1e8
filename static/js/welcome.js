// /welcome?token=...: an invited person chooses their first password.
import { bindJsonForm } from "./password-form.js";

const $ = (id) => document.getElementById(id);
const form = $("welcome-form");
const token = form.dataset.token;
// Keep the token out of the address bar and history once the page has it.
window.history.replaceState(null, "", "/welcome");
bindJsonForm({
  form, path: "/api/auth/accept-invitation",
  errorBox: $("welcome-error"), okBox: $("welcome-ok"), extra: () => ({ token }),
  // Done: only the way on is left to show.
  onDone: () => {
    for (const part of form.querySelectorAll(".auth__lead, .field, [type=submit]")) part.hidden = true;
    form.querySelector("#welcome-ok a").focus();
  },
});
