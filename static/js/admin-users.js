// /admin/users: invite people, rename, change role and capacity, deactivate and reactivate,
// resend an invitation, reset someone's two-factor sign-in.
import { api } from "./chat-core.js";

const $ = (id) => document.getElementById(id);
const tbody = $("users");
const root = $("admin-users");
const ROLES = ["agent", "admin"];

function showError(box, text) {
  box.textContent = text ?? "";
  box.hidden = !text;
}

function cell(...children) {
  const td = document.createElement("td");
  td.append(...children);
  return td;
}

function button(text, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "button button--secondary";
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

function row(user) {
  const tr = document.createElement("tr");
  tr.dataset.userId = user.id;

  const name = document.createElement("input");
  name.className = "input";
  name.value = user.name;
  name.maxLength = 80;
  name.setAttribute("aria-label", `Name of ${user.email}`);

  const role = document.createElement("select");
  role.className = "select";
  role.setAttribute("aria-label", `Role of ${user.email}`);
  for (const value of ROLES) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = value;
    option.selected = value === user.role;
    role.append(option);
  }

  // The most open tickets auto-assignment gives them (ASSIGNMENT=round_robin).
  const capacity = document.createElement("input");
  capacity.className = "input input--number";
  capacity.type = "number";
  capacity.min = "0";
  capacity.max = "100";
  capacity.value = String(user.capacity);
  capacity.setAttribute("aria-label", `Capacity of ${user.email} (open tickets, now ${user.open_count})`);

  const save = button("Save", () => act(`/api/admin/users/${user.id}`, "PATCH",
    { name: name.value.trim(), role: role.value, capacity: Number(capacity.value) }));
  const toggle = user.active
    ? button("Deactivate", () => act(`/api/admin/users/${user.id}/deactivate`, "POST"))
    : button("Reactivate", () => act(`/api/admin/users/${user.id}/reactivate`, "POST"));

  const email = document.createElement("span");
  email.textContent = user.email;
  const status = document.createElement("span");
  status.textContent = !user.active ? "deactivated" : user.invited ? "invited" : "active";
  if (user.id === root.dataset.userId) status.textContent += " (you)";
  const twoFactor = document.createElement("span");
  twoFactor.textContent = user.two_factor ? "on" : "off";

  const actions = [save, " ", toggle];
  if (user.active && user.invited) {
    actions.push(" ", button("Resend invitation", () => act(`/api/admin/users/${user.id}/invitation`, "POST",
      undefined, `A new invitation is on its way to ${user.email}.`)));
  }
  if (user.two_factor) {
    // Two clicks: the first asks, in the button itself, whether this is meant.
    const reset = button("Reset two-factor", () => {
      if (reset.dataset.armed) return act(`/api/admin/users/${user.id}/two-factor/reset`, "POST", undefined,
        `Two-factor sign-in is off for ${user.name}; they can set it up again after signing in.`);
      reset.dataset.armed = "1";
      reset.textContent = "Confirm: reset two-factor";
    });
    actions.push(" ", reset);
  }
  tr.append(cell(name), cell(email), cell(role), cell(capacity), cell(status), cell(twoFactor), cell(...actions));
  return tr;
}

async function act(path, method, body, done) {
  showError($("users-error"), null);
  showError($("create-ok"), null);
  try {
    await api(path, { method, body });
    if (done) showError($("create-ok"), done);
  } catch (error) {
    showError($("users-error"), error.message);
  }
  await load();
}

let nextCursor = null;

/** The first page of accounts (by name), or with `more` the next one below it. */
async function load({ more = false } = {}) {
  try {
    const query = more && nextCursor ? { after: nextCursor } : {};
    const page = await api("/api/admin/users", { query });
    const rows = page.users.map(row);
    if (more) tbody.append(...rows);
    else tbody.replaceChildren(...rows);
    nextCursor = page.next_cursor;
    $("more-users").hidden = !nextCursor;
  } catch (error) {
    showError($("users-error"), error.message);
  }
}

$("more-users").addEventListener("click", () => load({ more: true }));

$("create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const body = Object.fromEntries(new FormData(form));
  showError($("create-error"), null);
  showError($("create-ok"), null);
  try {
    const { user } = await api("/api/admin/users", { method: "POST", body });
    form.reset();
    showError($("create-ok"), `Invitation sent to ${user.email}.`);
    await load();
  } catch (error) {
    showError($("create-error"), error.message);
  }
});

load();
