// One small helper for the account and password-reset forms: post the form's fields as
// JSON and show the server's error or the success line.
import { api } from "./chat-core.js";

export function bindJsonForm({ form, path, errorBox, okBox, extra = () => ({}), onDone }) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    okBox.hidden = true;
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    try {
      const body = { ...Object.fromEntries(new FormData(form)), ...extra() };
      const answer = await api(path, { method: "POST", body });
      form.reset();
      okBox.hidden = false;
      onDone?.(answer);
    } catch (error) {
      errorBox.textContent = error.message;
      errorBox.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
}
