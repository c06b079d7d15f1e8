// /admin/users: every account at a glance (name, e-mail, role, status, last seen, two-factor),
// searched on the server; per row: edit (a dialog that checks each field), deactivate (after a
// confirmation naming the person), reactivate, resend an invitation, reset two-factor, and
// their activity in the audit trail. /admin/users?user=<id> opens on that person's row.
import { ago, api, formatFull } from "./chat-core.js";

const $ = (id) => document.getElementById(id);
const tbody = $("users");
const root = $("admin-users");
const search = $("search");
const status = $("users-status");
const LOGIN_URL = "/login?next=%2Fadmin%2Fusers";
const SEARCH_WAIT_MS = 200;
const EMAIL = /^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$/;

function show(box, text) {
  box.textContent = text ?? "";
  box.hidden = !text;
}

// ------------------------------------------------------------------ fields and their errors

/** Mark a field at fault (or clear it): aria-invalid, and its message tied to it. */
function markField(input, message) {
  const box = $(`${input.id}-error`);
  show(box, message);
  if (message) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", box.id);
  } else {
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
  }
}

/** Each field's rule, as the server checks it; the first message is shown. */
const RULES = {
  name: (value) => (!value.trim() ? "Give a name." : value.trim().length > 80 ? "A name is at most 80 characters." : null),
  email: (value) => (!value.trim() ? "Give an e-mail address." : !EMAIL.test(value.trim()) ? "This is not an e-mail address (like name@example.com)." : null),
  role: (value) => (["agent", "admin"].includes(value) ? null : "Choose a role."),
};

/** Check every field of the form; mark each one at fault; focus the first. True if all pass. */
function validate(form) {
  let first = null;
  for (const input of form.querySelectorAll("input[name], select[name]")) {
    const message = RULES[input.name]?.(input.value) ?? null;
    markField(input, message);
    if (message && !first) first = input;
  }
  first?.focus();
  return !first;
}

/** An error from the server: on its field when it names one of the form's, else the form's. */
function serverError(form, error, box) {
  const input = error.field ? form.querySelector(`[name="${CSS.escape(error.field)}"]`) : null;
  if (input) {
    markField(input, error.message);
    input.focus();
  } else {
    show(box, error.message);
  }
}

function clearErrors(form, box) {
  for (const input of form.querySelectorAll("input[name], select[name]")) markField(input, null);
  show(box, null);
}

for (const dialog of document.querySelectorAll("dialog")) {
  for (const button of dialog.querySelectorAll("[data-close]")) button.addEventListener("click", () => dialog.close());
}

// ------------------------------------------------------------------ rows


function badge(textValue, kind) {
  const span = document.createElement("span");
  span.className = `badge badge--${kind}`;
  span.textContent = textValue;
  return span;
}

function cell(label, ...children) {
  const td = document.createElement("td");
  td.dataset.label = label;
  td.append(...children);
  return td;
}

function button(label, onClick, kind = "secondary") {
  const b = document.createElement("button");
  b.type = "button";
  b.className = `button button--${kind} button--small`;
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

function row(user) {
  const tr = document.createElement("tr");
  tr.dataset.userId = user.id;
  const me = user.id === root.dataset.userId;

  const name = document.createElement("span");
  name.className = "account-name";
  name.textContent = user.name;
  if (me) {
    const you = document.createElement("span");
    you.className = "account-you";
    you.textContent = "(you)";
    name.append(you);
  }
  const state = !user.active ? badge("Deactivated", "closed") : user.invited ? badge("Invited", "warn") : badge("Active", "on");
  const seen = user.last_seen_at ? document.createElement("time") : document.createElement("span");
  if (user.last_seen_at) {
    seen.dateTime = user.last_seen_at;
    seen.title = formatFull(user.last_seen_at);
    seen.textContent = ago(user.last_seen_at);
  } else {
    seen.className = "muted";
    seen.textContent = user.invited ? "Not yet" : "Never";
  }

  const actions = document.createElement("div");
  actions.className = "row-actions";
  actions.append(button("Edit", () => openEdit(user)));
  if (user.active) {
    actions.append(button("Deactivate", () => confirmThen({
      title: `Deactivate ${user.name}?`,
      text: `${user.name} (${user.email}) is signed out everywhere at once and cannot sign in until an admin reactivates the account.`,
      confirm: `Deactivate ${user.name}`,
      run: () => api(`/api/admin/users/${user.id}/deactivate`, { method: "POST" }),
      done: `${user.name} is deactivated.`,
    })));
  } else {
    actions.append(button("Reactivate", () => act(`/api/admin/users/${user.id}/reactivate`, `${user.name} can sign in again.`)));
  }
  if (user.active && user.invited) {
    actions.append(button("Resend invitation", () => act(`/api/admin/users/${user.id}/invitation`,
      `A new invitation is on its way to ${user.email}.`)));
  }
  if (user.two_factor) {
    actions.append(button("Reset two-factor", () => confirmThen({
      title: `Reset two-factor sign-in for ${user.name}?`,
      text: `${user.name} signs in with the password alone until they set two-factor sign-in up again. Do this when they lost their phone and their backup codes.`,
      confirm: "Reset two-factor",
      run: () => api(`/api/admin/users/${user.id}/two-factor/reset`, { method: "POST" }),
      done: `Two-factor sign-in is off for ${user.name}; they can set it up again after signing in.`,
    })));
  }
  const activity = document.createElement("a");
  activity.className = "button button--ghost button--small";
  activity.href = `/admin/audit?actor=${encodeURIComponent(user.id)}`;
  activity.textContent = "Activity";
  activity.setAttribute("aria-label", `Activity of ${user.name}`);
  actions.append(activity);

  tr.append(
    cell("Name", name),
    cell("E-mail", document.createTextNode(user.email)),
    cell("Role", document.createTextNode(user.role === "admin" ? "Admin" : "Agent")),
    // Open tickets now, out of the most automatic assignment gives them (ASSIGNMENT=round_robin).
    cell("Capacity", document.createTextNode(`${user.open_count} / ${user.capacity}`)),
    cell("Status", state),
    cell("Last seen", seen),
    cell("Two-factor", user.two_factor ? badge("On", "on") : badge("Off", "off-muted")),
    cell("Actions", actions),
  );
  return tr;
}

// ------------------------------------------------------------------ loading and searching

let nextCursor = null;
let request = 0;
let focusId = null; // the person /admin/users?user=<id> asked for

function describe(count) {
  const term = search.value.trim();
  if (!count) return term ? `No account’s name or e-mail contains “${term}”.` : "No accounts yet.";
  const noun = count === 1 ? "account" : "accounts";
  return term ? `${count}${nextCursor ? "+" : ""} ${noun} matching “${term}”.` : `${count}${nextCursor ? "+" : ""} ${noun}, by name.`;
}

/** The first page of accounts (by name, matching the search), or with `more` the next. */
async function load({ more = false } = {}) {
  const mine = ++request;
  try {
    const query = { q: search.value.trim() };
    if (more && nextCursor) query.after = nextCursor;
    const page = await api("/api/admin/users", { query });
    if (mine !== request) return;
    const rows = page.users.map(row);
    if (more) tbody.append(...rows);
    else tbody.replaceChildren(...rows);
    nextCursor = page.next_cursor;
    $("more-users").hidden = !nextCursor;
    status.textContent = describe(tbody.rows.length);
    if (focusId) {
      const focused = tbody.querySelector(`tr[data-user-id="${CSS.escape(focusId)}"]`);
      if (focused) {
        focused.dataset.focus = "";
        focused.scrollIntoView({ block: "center" });
      }
    }
  } catch (error) {
    if (mine !== request) return;
    if (error.status === 401) window.location.assign(LOGIN_URL);
    show($("users-error"), error.message);
  }
}

let searchTimer = null;
search.addEventListener("input", () => {
  clearTimeout(searchTimer);
  focusId = null;
  searchTimer = setTimeout(() => {
    const params = new URLSearchParams(search.value.trim() ? { q: search.value.trim() } : {});
    history.replaceState(null, "", params.toString() ? `?${params}` : window.location.pathname);
    load();
  }, SEARCH_WAIT_MS);
});
$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(searchTimer);
  load();
});
$("more-users").addEventListener("click", () => load({ more: true }));

async function act(path, done) {
  show($("users-error"), null);
  show($("create-ok"), null);
  try {
    await api(path, { method: "POST" });
    show($("create-ok"), done);
  } catch (error) {
    show($("users-error"), error.message);
  }
  await load();
}

// ------------------------------------------------------------------ confirmations

const confirmDialog = $("confirm-dialog");
let confirming = null;

function confirmThen(action) {
  confirming = action;
  $("confirm-title").textContent = action.title;
  $("confirm-text").textContent = action.text;
  $("confirm-button").textContent = action.confirm;
  show($("confirm-error"), null);
  confirmDialog.showModal();
  confirmDialog.querySelector("[data-close]").focus(); // the safe choice first
}

$("confirm-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const action = confirming;
  const submit = $("confirm-button");
  submit.disabled = true;
  try {
    await action.run();
    confirmDialog.close();
    show($("users-error"), null);
    show($("create-ok"), action.done);
    await load();
  } catch (error) {
    show($("confirm-error"), error.message);
  } finally {
    submit.disabled = false;
  }
});

// ------------------------------------------------------------------ edit

const editDialog = $("edit-dialog");
const editForm = $("edit-form");
let editing = null;

function openEdit(user) {
  editing = user;
  clearErrors(editForm, $("edit-error"));
  $("edit-title").textContent = `Edit ${user.name}`;
  $("edit-email").textContent = `${user.email} · the e-mail address cannot be changed.`;
  $("edit-name").value = user.name;
  $("edit-role").value = user.role;
  $("edit-capacity").value = String(user.capacity);
  editDialog.showModal();
  $("edit-name").focus();
}

editForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(editForm, $("edit-error"));
  if (!validate(editForm)) return;
  const changes = {};
  const name = $("edit-name").value.trim();
  if (name !== editing.name) changes.name = name;
  if ($("edit-role").value !== editing.role) changes.role = $("edit-role").value;
  const capacity = Number($("edit-capacity").value);
  if ($("edit-capacity").value !== "" && capacity !== editing.capacity) changes.capacity = capacity;
  if (!Object.keys(changes).length) {
    editDialog.close();
    return;
  }
  try {
    const { user } = await api(`/api/admin/users/${editing.id}`, { method: "PATCH", body: changes });
    editDialog.close();
    show($("create-ok"), `Saved: ${user.name}, ${user.role}.`);
    await load();
  } catch (error) {
    serverError(editForm, error, $("edit-error"));
  }
});

// ------------------------------------------------------------------ invite

const inviteDialog = $("invite-dialog");
const createForm = $("create-form");

$("invite-open").addEventListener("click", () => {
  clearErrors(createForm, $("create-error"));
  inviteDialog.showModal();
  $("new-name").focus();
});

createForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(createForm, $("create-error"));
  show($("create-ok"), null);
  if (!validate(createForm)) return;
  const body = Object.fromEntries(new FormData(createForm));
  body.name = body.name.trim();
  body.email = body.email.trim();
  try {
    const { user } = await api("/api/admin/users", { method: "POST", body });
    createForm.reset();
    inviteDialog.close();
    show($("create-ok"), `Invitation sent to ${user.email}.`);
    await load();
  } catch (error) {
    serverError(createForm, error, $("create-error"));
  }
});

// A field fixed is unmarked as it is typed in.
for (const form of [createForm, editForm]) {
  form.addEventListener("input", (event) => {
    if (event.target.getAttribute("aria-invalid") === "true" && !RULES[event.target.name]?.(event.target.value)) {
      markField(event.target, null);
    }
  });
}

// ------------------------------------------------------------------ start

const opened = new URLSearchParams(window.location.search);
if (opened.get("q")) search.value = opened.get("q").slice(0, 80);
const wanted = opened.get("user");
if (wanted && /^[0-9a-f]{24}$/.test(wanted)) {
  focusId = wanted;
  try {
    const { user } = await api(`/api/admin/users/${wanted}`);
    search.value = user.email; // their row alone, whatever page of names they are on
  } catch (error) {
    show($("users-error"), error.status === 404 ? "This account does not exist." : error.message);
  }
}
load();
