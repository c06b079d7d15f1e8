// /forgot-password: ask for a reset link.
import { bindJsonForm } from "./password-form.js";

const $ = (id) => document.getElementById(id);
bindJsonForm({
  form: $("forgot-form"), path: "/api/auth/forgot-password",
  errorBox: $("forgot-error"), okBox: $("forgot-ok"),
});
