// /admin/tokens: make API tokens (shown once), see when each was last used, revoke them.
import { api, formatFull } from "./chat-core.js";

const $ = (id) => document.getElementById(id);
const tbody = $("tokens");
const listError = $("tokens-error");
const createError = $("create-error");

function cell(label, content) {
  const td = document.createElement("td");
  td.dataset.label = label; // shown before the value when the table is stacked (phones)
  if (typeof content === "string") td.textContent = content;
  else td.append(content);
  return td;
}

function showError(box, failure) {
  box.textContent = failure.message;
  box.hidden = false;
}

function row(token) {
  const tr = document.createElement("tr");
  const prefix = document.createElement("code");
  prefix.textContent = `${token.prefix}…`;
  let action = "";
  if (token.active) {
    action = document.createElement("button");
    action.type = "button";
    action.className = "button button--secondary";
    action.textContent = "Revoke";
    action.setAttribute("aria-label", `Revoke ${token.name}`);
    action.addEventListener("click", async () => {
      action.disabled = true;
      try {
        const answer = await api(`/api/admin/tokens/${token.id}`, { method: "DELETE" });
        tr.replaceWith(row(answer.token));
      } catch (failure) {
        action.disabled = false;
        showError(listError, failure);
      }
    });
  }
  tr.append(
    cell("Name", token.name),
    cell("Scope", token.scope),
    cell("Starts with", prefix),
    cell("Made", `${formatFull(token.created_at)}${token.created_by ? ` by ${token.created_by}` : ""}`),
    cell("Last used", token.last_used_at ? formatFull(token.last_used_at) : "Never"),
    cell("Status", token.active ? "Active" : `Revoked ${formatFull(token.revoked_at)}`),
    cell("", action),
  );
  return tr;
}

async function load() {
  listError.hidden = true;
  try {
    const { tokens } = await api("/api/admin/tokens");
    tbody.replaceChildren(...tokens.map(row));
  } catch (failure) {
    showError(listError, failure);
  }
}

$("create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  createError.hidden = true;
  const form = event.currentTarget;
  try {
    const made = await api("/api/admin/tokens", {
      method: "POST",
      body: { name: form.elements.name.value, scope: form.elements.scope.value },
    });
    $("secret-for").textContent = made.token.name;
    $("secret-value").textContent = made.secret;
    $("secret").hidden = false;
    form.reset();
    tbody.prepend(row(made.token));
  } catch (failure) {
    showError(createError, failure);
  }
});

load();
