// /account: the places one is signed in (sign out one, or everywhere), two-factor sign-in,
// and changing one's password.
import { ago, api, formatFull } from "./chat-core.js";
import { bindJsonForm } from "./password-form.js";

const $ = (id) => document.getElementById(id);
const list = $("sessions");
const sessionsError = $("sessions-error");

function showSessionsError(text) {
  sessionsError.textContent = text ?? "";
  sessionsError.hidden = !text;
}

// "Firefox on Linux": the server names the browser (app/services/core/useragent.py), the same
// words as the audit trail.
function describe(session) {
  return session.client || "Unknown browser";
}


function when(label, iso) {
  const span = document.createElement("span");
  span.className = "session__when";
  const time = document.createElement("time");
  time.dateTime = iso;
  time.title = formatFull(iso);
  time.textContent = ago(iso);
  span.append(`${label} `, time);
  return span;
}

function item(session) {
  const li = document.createElement("li");
  li.className = "session";
  li.dataset.sessionId = session.id;

  const about = document.createElement("div");
  about.className = "session__about";
  const name = document.createElement("span");
  name.className = "session__device";
  name.textContent = describe(session);
  if (session.user_agent) name.title = session.user_agent;
  const heading = document.createElement("span");
  heading.className = "session__name";
  heading.append(name);
  if (session.current) {
    const badge = document.createElement("span");
    badge.className = "badge badge--on";
    badge.textContent = "This browser";
    heading.append(badge);
  } else if (session.stage !== "active") {
    // Someone gave the password here and has not finished signing in: if it was not you,
    // sign it out and change your password.
    const badge = document.createElement("span");
    badge.className = "badge badge--off";
    badge.textContent = session.stage === "code" ? "Waiting for a two-factor code" : "Setting up two-factor sign-in";
    heading.append(badge);
  }
  about.append(heading);
  const details = document.createElement("span");
  details.className = "session__details";
  details.append(session.ip ? `${session.ip} · ` : "", when("signed in", session.created_at),
    " · ", when("last active", session.last_seen_at));
  about.append(details);

  const out = document.createElement("button");
  out.type = "button";
  out.className = "button button--secondary";
  out.textContent = "Sign out";
  out.setAttribute("aria-label", session.current ? "Sign out of this browser"
    : `Sign out of ${describe(session)}, signed in ${ago(session.created_at)}`);
  out.addEventListener("click", () => endSession(session, out));
  li.append(about, out);
  return li;
}

async function loadSessions() {
  try {
    const { sessions } = await api("/api/account/sessions");
    list.replaceChildren(...sessions.map(item));
    list.removeAttribute("aria-busy");
  } catch (error) {
    if (error.status === 401) return window.location.assign("/login?next=/account");
    showSessionsError(error.message);
  }
}

async function endSession(session, button) {
  showSessionsError(null);
  button.disabled = true;
  try {
    const answer = await api(`/api/account/sessions/${encodeURIComponent(session.id)}`, { method: "DELETE" });
    if (answer.signed_out) return window.location.assign("/login");
    await loadSessions();
  } catch (error) {
    button.disabled = false;
    showSessionsError(error.message);
    await loadSessions();
  }
}

$("end-all").addEventListener("click", async (event) => {
  showSessionsError(null);
  event.currentTarget.disabled = true;
  try {
    await api("/api/account/sessions/end-all", { method: "POST" });
    window.location.assign("/login");
  } catch (error) {
    event.currentTarget.disabled = false;
    showSessionsError(error.message);
  }
});

const offForm = $("tf-off-form");
if (offForm) {
  bindJsonForm({
    form: offForm, path: "/api/account/two-factor/disable",
    errorBox: $("tf-off-error"), okBox: $("tf-off-ok"),
    onDone: () => window.location.reload(),
  });
}

bindJsonForm({
  form: $("password-form"), path: "/api/auth/password",
  errorBox: $("password-error"), okBox: $("password-ok"),
  onDone: () => loadSessions(),
});

loadSessions();
