// /admin/webhooks: register webhooks (the secret is shown once), pause, delete, give a new
// secret, and read each one's delivery log with "Redeliver".
import { api, formatFull } from "./chat-core.js";

const $ = (id) => document.getElementById(id);
const list = $("hooks");
const summary = $("hooks-summary");
const listError = $("hooks-error");
const createError = $("create-error");

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(text, className, label) {
  const node = el("button", `button ${className}`, text);
  node.type = "button";
  if (label) node.setAttribute("aria-label", label);
  return node;
}

function showError(box, failure) {
  box.textContent = failure.message;
  box.hidden = false;
}

function showSecret(hook, secret) {
  $("secret-for").textContent = hook.url;
  $("secret-value").textContent = secret;
  $("secret").hidden = false;
  $("secret").scrollIntoView({ block: "nearest" });
}

function cell(label, content) {
  const td = document.createElement("td");
  td.dataset.label = label;
  if (typeof content === "string") td.textContent = content;
  else td.append(content);
  return td;
}

function deliveryRow(hook, delivery, reload) {
  const tr = document.createElement("tr");
  const status = el("span", `status--${delivery.status}`, delivery.status === "succeeded" ? "Delivered" : "Failed");
  const redeliver = button("Redeliver", "button--secondary",
    `Redeliver ${delivery.event}, attempt ${delivery.attempt} at ${formatFull(delivery.at)}`);
  redeliver.addEventListener("click", async () => {
    redeliver.disabled = true;
    try {
      await api(`/api/admin/webhooks/${hook.id}/deliveries/${delivery.id}/redeliver`, { method: "POST" });
      redeliver.textContent = "Queued";
      redeliver.setAttribute("aria-label", `Queued again: ${delivery.event}`);
      setTimeout(reload, 1000); // the log then shows the redelivery's attempt
    } catch (failure) {
      redeliver.disabled = false;
      showError(listError, failure);
    }
  });
  const error = el("code", "job__error", delivery.error ?? "");
  tr.append(
    cell("When", formatFull(delivery.at)),
    cell("Event", delivery.event),
    cell("Attempt", `${delivery.attempt}${delivery.redelivery ? " (redelivery)" : ""}`),
    cell("Result", status),
    cell("Answer", delivery.response_code === null ? "none" : String(delivery.response_code)),
    cell("Time", `${Math.round(delivery.duration_ms)} ms`),
    cell("Error", error),
    cell("", redeliver),
  );
  return tr;
}

async function loadDeliveries(hook, region) {
  region.replaceChildren(el("p", "admin__lead", "Loading…"));
  try {
    const { deliveries } = await api(`/api/admin/webhooks/${hook.id}/deliveries`, { query: { limit: 50 } });
    if (!deliveries.length) {
      region.replaceChildren(el("p", "admin__lead", "Nothing sent yet."));
      return;
    }
    const table = el("table", "table table--stack");
    const caption = el("caption", "visually-hidden", `Deliveries to ${hook.url}, newest first`);
    const head = el("thead");
    const headRow = el("tr");
    for (const name of ["When", "Event", "Attempt", "Result", "Answer", "Time", "Error"]) {
      const th = el("th", "", name);
      th.scope = "col";
      headRow.append(th);
    }
    const actionHead = el("th");
    actionHead.scope = "col";
    actionHead.append(el("span", "visually-hidden", "Action"));
    headRow.append(actionHead);
    head.append(headRow);
    const body = el("tbody");
    const reload = () => loadDeliveries(hook, region);
    body.append(...deliveries.map((d) => deliveryRow(hook, d, reload)));
    table.append(caption, head, body);
    region.replaceChildren(table);
  } catch (failure) {
    region.replaceChildren();
    showError(listError, failure);
  }
}

function card(hook) {
  const article = el("article", "hook");
  article.setAttribute("aria-label", hook.url);
  const url = el("p", "hook__url", hook.url);
  const facts = el("p", "admin__lead",
    [hook.active ? "Active" : "Paused", hook.events.join(", "),
      hook.include_notes ? "with internal notes" : "without internal notes",
      hook.description].filter(Boolean).join(" · "));
  const region = el("div");
  region.id = `deliveries-${hook.id}`;
  region.hidden = true;

  const toggle = button("Deliveries", "button--secondary");
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-controls", region.id);
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    region.hidden = !open;
    if (open) loadDeliveries(hook, region);
  });

  const pause = button(hook.active ? "Pause" : "Resume", "button--secondary");
  pause.addEventListener("click", async () => {
    pause.disabled = true;
    try {
      const { webhook } = await api(`/api/admin/webhooks/${hook.id}`, {
        method: "PATCH", body: { active: !hook.active },
      });
      article.replaceWith(card(webhook));
    } catch (failure) {
      pause.disabled = false;
      showError(listError, failure);
    }
  });

  const rotate = button("New secret", "button--secondary");
  rotate.addEventListener("click", async () => {
    rotate.disabled = true;
    try {
      const answer = await api(`/api/admin/webhooks/${hook.id}/secret`, { method: "POST" });
      showSecret(answer.webhook, answer.secret);
    } catch (failure) {
      showError(listError, failure);
    }
    rotate.disabled = false;
  });

  const remove = button("Delete", "button--ghost");
  remove.addEventListener("click", async () => {
    if (remove.dataset.armed !== "yes") {
      remove.dataset.armed = "yes"; // a second click deletes: no dialog to dismiss
      remove.textContent = "Delete: sure?";
      return;
    }
    remove.disabled = true;
    try {
      await api(`/api/admin/webhooks/${hook.id}`, { method: "DELETE" });
      article.remove();
      summary.textContent = `Deleted the webhook to ${hook.url}.`;
    } catch (failure) {
      remove.disabled = false;
      showError(listError, failure);
    }
  });

  const actions = el("div", "hook__actions");
  actions.append(toggle, pause, rotate, remove);
  article.append(url, facts, actions, region);
  return article;
}

async function load() {
  listError.hidden = true;
  try {
    const { webhooks } = await api("/api/admin/webhooks");
    list.replaceChildren(...webhooks.map(card));
    summary.textContent = webhooks.length ? "" : "No webhooks yet.";
  } catch (failure) {
    showError(listError, failure);
  }
}

$("create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  createError.hidden = true;
  const form = event.currentTarget;
  const events = [...form.querySelectorAll('input[name="events"]:checked')].map((box) => box.value);
  try {
    const made = await api("/api/admin/webhooks", {
      method: "POST",
      body: {
        url: form.elements.url.value.trim(),
        events,
        include_notes: form.elements.include_notes.checked,
        description: form.elements.description.value,
      },
    });
    showSecret(made.webhook, made.secret);
    form.elements.url.value = "";
    form.elements.description.value = "";
    list.prepend(card(made.webhook));
    summary.textContent = "";
  } catch (failure) {
    showError(createError, failure);
  }
});

load();
