// /admin/jobs: jobs that gave up (dead), newest first, each with its last error and a retry.
import { api, formatFull } from "./chat-core.js";

const $ = (id) => document.getElementById(id);
const tbody = $("jobs");
const more = $("more");
const summary = $("jobs-summary");
const errorBox = $("jobs-error");
let cursor = null;

function cell(label, content) {
  const td = document.createElement("td");
  td.dataset.label = label; // shown before the value when the table is stacked (phones)
  if (typeof content === "string") td.textContent = content;
  else td.append(content);
  return td;
}

function describe(job) {
  // What the job was for, in words: never the whole payload (an e-mail's body).
  if (job.kind === "email") return `E-mail to ${job.to ?? "a guest"}`;
  if (job.kind === "notify") return "In-app notification";
  if (job.kind === "webhook") return "Webhook delivery";
  return job.kind;
}

function row(job) {
  const tr = document.createElement("tr");
  const error = document.createElement("code");
  error.className = "job__error";
  error.textContent = job.last_error ?? "";
  const retry = document.createElement("button");
  retry.type = "button";
  retry.className = "button button--secondary";
  retry.textContent = "Retry";
  retry.setAttribute("aria-label", `Retry: ${describe(job)}, failed ${formatFull(job.updated_at)}`);
  retry.addEventListener("click", async () => {
    retry.disabled = true;
    try {
      await api(`/api/admin/jobs/${job.id}/retry`, { method: "POST" });
      tr.remove();
      summary.textContent = `Queued again: ${describe(job)}.`;
    } catch (failure) {
      retry.disabled = false;
      errorBox.textContent = failure.message;
      errorBox.hidden = false;
    }
  });
  tr.append(cell("Failed", formatFull(job.updated_at)), cell("Kind", describe(job)),
    cell("Attempts", String(job.attempts)), cell("Last error", error), cell("", retry));
  return tr;
}

async function load({ append = false } = {}) {
  errorBox.hidden = true;
  const query = { status: "dead" };
  if (append && cursor) query.before = cursor;
  try {
    const page = await api("/api/admin/jobs", { query });
    const rows = page.jobs.map(row);
    if (append) tbody.append(...rows);
    else tbody.replaceChildren(...rows);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    if (!append) {
      summary.textContent = page.total === 0 ? "No failed jobs." : `${page.total} failed job${page.total === 1 ? "" : "s"}.`;
    }
  } catch (failure) {
    errorBox.textContent = failure.message;
    errorBox.hidden = false;
  }
}

more.addEventListener("click", () => load({ append: true }));
load();
