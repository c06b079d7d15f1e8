// /account: change one's own password.
import { bindJsonForm } from "./password-form.js";

const $ = (id) => document.getElementById(id);
bindJsonForm({
  form: $("password-form"), path: "/api/auth/password",
  errorBox: $("password-error"), okBox: $("password-ok"),
});
