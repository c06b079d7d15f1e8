// /admin/settings: the chat widget's title, greeting, colour, e-mail rule and opening hours.
import { api } from "./chat-core.js";

const $ = (id) => document.getElementById(id);
const DAYS = { mon: "Monday", tue: "Tuesday", wed: "Wednesday", thu: "Thursday", fri: "Friday", sat: "Saturday", sun: "Sunday" };
const error = $("settings-error");
const ok = $("settings-ok");

function input(type, id, label, value) {
  const el = document.createElement("input");
  el.type = type;
  el.id = id;
  el.className = type === "checkbox" ? "" : "input";
  el.setAttribute("aria-label", label);
  if (type === "checkbox") el.checked = value;
  else el.value = value;
  return el;
}

function fill({ widget, hours, timezones }) {
  $("widget-title").value = widget.title;
  $("widget-greeting").value = widget.greeting;
  $("widget-color").value = widget.color;
  $("widget-email-required").checked = widget.email_required;
  $("hours-enabled").checked = hours.enabled;
  const zone = $("hours-timezone");
  zone.replaceChildren(...timezones.map((name) => new Option(name, name, false, name === hours.timezone)));
  $("hours-days").replaceChildren(
    ...Object.entries(DAYS).map(([day, name]) => {
      const span = hours.days[day];
      const tr = document.createElement("tr");
      const cells = [
        Object.assign(document.createElement("th"), { scope: "row", textContent: name }),
        input("checkbox", `open-${day}`, `Open on ${name}`, Boolean(span)),
        input("time", `from-${day}`, `${name}: opens at`, span?.open ?? "09:00"),
        input("time", `until-${day}`, `${name}: closes at`, span?.close ?? "17:00"),
      ];
      for (const cell of cells) {
        if (cell.tagName === "TH") tr.append(cell);
        else tr.append(Object.assign(document.createElement("td"), {}).appendChild(cell).parentNode);
      }
      return tr;
    }),
  );
}

$("settings-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = ok.hidden = true;
  const days = {};
  for (const day of Object.keys(DAYS)) {
    days[day] = $(`open-${day}`).checked ? { open: $(`from-${day}`).value, close: $(`until-${day}`).value } : null;
  }
  try {
    fill(
      await api("/api/admin/settings", {
        method: "PUT",
        body: {
          widget: {
            title: $("widget-title").value,
            greeting: $("widget-greeting").value,
            color: $("widget-color").value,
            email_required: $("widget-email-required").checked,
          },
          hours: { enabled: $("hours-enabled").checked, timezone: $("hours-timezone").value, days },
        },
      }),
    );
    ok.textContent = "Saved. The widget shows it from its next page load.";
    ok.hidden = false;
  } catch (failure) {
    error.textContent = failure.message;
    error.hidden = false;
  }
});

api("/api/admin/settings").then(fill, (failure) => {
  error.textContent = failure.message;
  error.hidden = false;
});
