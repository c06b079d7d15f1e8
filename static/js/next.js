// Where to go after signing in: only a path on this site. The server checks `next` the
// same way (app/http/pages.py, local_path); this is the page's own check of what it is
// about to follow. Browsers drop tabs and newlines from URLs ("/\t/evil.example" becomes
// "//evil.example", another host) and read "/\" like "//", so anything but printable
// ASCII after one "/" is refused, also after one round of percent-decoding.
const LOCAL_PATH = /^\/(?![/\\])[\x21-\x7e]{0,2000}$/;
const UNSAFE_DECODED = /^\/[/\\]|[\x00-\x1f\x7f\\]/;

export function safeNext(value, fallback = "/dashboard") {
  if (typeof value !== "string" || !LOCAL_PATH.test(value) || value.includes("\\")) return fallback;
  let decoded;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return fallback;
  }
  if (UNSAFE_DECODED.test(decoded)) return fallback;
  const url = new URL(value, window.location.origin);
  if (url.origin !== window.location.origin) return fallback;
  return url.pathname + url.search + url.hash;
}
