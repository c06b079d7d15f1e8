// The reports page: days are counted in the browser's time zone, and the dates are shown
// only for "Custom dates". Without this script the page works in UTC with every field shown.

const form = document.getElementById("range-form");
const range = document.getElementById("range");
const tz = document.getElementById("tz");
const custom = document.querySelectorAll(".reports__custom");

function showDates() {
  for (const field of custom) field.hidden = range.value !== "custom";
}

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const params = new URLSearchParams(location.search);
if (zone && !params.has("tz") && zone !== tz.value) {
  // First visit: the same report, with days in this browser's time zone. After "load", so
  // that no request of this page is cut off half-way.
  params.set("tz", zone);
  addEventListener("load", () => location.replace(`${location.pathname}?${params}`), { once: true });
} else {
  if (zone && !params.has("tz")) tz.value = zone;
  showDates();
  range.addEventListener("change", () => {
    showDates();
    if (range.value !== "custom") form.requestSubmit();
  });
}
