// /canned-replies: add, change and remove canned replies (the team's for admins, one's own
// for everyone). The dashboard's reply box offers them after a "/".
import { api } from "./chat-core.js";

const $ = (id) => document.getElementById(id);
const form = $("reply-form");
const save = $("reply-save");
const cancel = $("reply-cancel");
const heading = $("form-heading");
const scope = $("reply-scope"); // admins only
let editing = null; // the reply being changed, or null when adding

function say(box, text) {
  box.textContent = text ?? "";
  box.hidden = !text;
}

function fieldOf(name) {
  return form.elements.namedItem(name);
}

function showError(error) {
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  say($("form-error"), error?.message);
  const field = error?.field ? fieldOf(error.field) : null;
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

function item(reply) {
  const li = document.createElement("li");
  li.className = "canned-item";
  li.dataset.replyId = reply.id;
  const head = document.createElement("div");
  head.className = "canned-item__head";
  const shortcut = document.createElement("code");
  shortcut.className = "canned-item__shortcut";
  shortcut.textContent = `/${reply.shortcut}`;
  const title = document.createElement("span");
  title.className = "canned-item__title";
  title.textContent = reply.title;
  head.append(shortcut, title);
  const body = document.createElement("p");
  body.className = "canned-item__body";
  body.textContent = reply.body;
  li.append(head, body);
  if (reply.editable) {
    const actions = document.createElement("div");
    actions.className = "canned-item__actions";
    const edit = document.createElement("button");
    edit.type = "button";
    edit.className = "button button--secondary";
    edit.textContent = "Edit";
    edit.setAttribute("aria-label", `Edit /${reply.shortcut}`);
    edit.addEventListener("click", () => startEditing(reply));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "button button--secondary";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove /${reply.shortcut}`);
    remove.addEventListener("click", async () => {
      // Two clicks: the first asks, in the button itself, whether this is meant.
      if (!remove.dataset.armed) {
        remove.dataset.armed = "1";
        remove.textContent = "Confirm: remove";
        return;
      }
      try {
        await api(`/api/canned-replies/${reply.id}`, { method: "DELETE" });
        say($("form-ok"), `/${reply.shortcut} was removed.`);
        if (editing?.id === reply.id) stopEditing();
      } catch (error) {
        showError(error);
      }
      await load();
    });
    actions.append(edit, remove);
    li.append(actions);
  }
  return li;
}

function startEditing(reply) {
  editing = reply;
  heading.textContent = `Change /${reply.shortcut}`;
  fieldOf("shortcut").value = reply.shortcut;
  fieldOf("title").value = reply.title;
  fieldOf("body").value = reply.body;
  if (scope) {
    scope.value = reply.scope;
    scope.disabled = true; // a reply stays the team's or one's own
  }
  save.textContent = "Save changes";
  cancel.hidden = false;
  showError(null);
  say($("form-ok"), null);
  fieldOf("shortcut").focus();
}

function stopEditing() {
  editing = null;
  form.reset();
  heading.textContent = "New canned reply";
  save.textContent = "Add reply";
  cancel.hidden = true;
  if (scope) scope.disabled = false;
}

cancel.addEventListener("click", stopEditing);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(null);
  say($("form-ok"), null);
  const body = {
    shortcut: fieldOf("shortcut").value,
    title: fieldOf("title").value,
    body: fieldOf("body").value,
  };
  save.disabled = true;
  try {
    if (editing) {
      const { reply } = await api(`/api/canned-replies/${editing.id}`, { method: "PATCH", body });
      say($("form-ok"), `/${reply.shortcut} was saved.`);
    } else {
      const { reply } = await api("/api/canned-replies", {
        method: "POST",
        body: { ...body, scope: scope?.value ?? "personal" },
      });
      say($("form-ok"), `/${reply.shortcut} was added.`);
    }
    stopEditing();
    await load();
  } catch (error) {
    showError(error);
  } finally {
    save.disabled = false;
  }
});

async function load() {
  try {
    const { replies } = await api("/api/canned-replies");
    const team = replies.filter((reply) => reply.scope === "team");
    const mine = replies.filter((reply) => reply.scope === "personal");
    $("team-replies").replaceChildren(...team.map(item));
    $("my-replies").replaceChildren(...mine.map(item));
    $("team-empty").hidden = team.length > 0;
    $("mine-empty").hidden = mine.length > 0;
  } catch (error) {
    showError(error);
  }
}

load();
