// New-chat alerts on the dashboard: an optional sound and a desktop notification (the
// browser asks for permission on a click, never by itself). Both choices are kept in this
// browser's storage.

const SOUND_KEY = "support-chat:alert-sound";

function stored(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

function store(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    // Not kept: the choice lasts as long as the page.
  }
}

export class Alerts {
  constructor({ soundBox, desktopButton, desktopState }) {
    this.soundBox = soundBox;
    this.desktopButton = desktopButton;
    this.desktopState = desktopState;
    this.audio = null;
    soundBox.checked = stored(SOUND_KEY) === "on";
    soundBox.addEventListener("change", () => {
      store(SOUND_KEY, soundBox.checked ? "on" : "off");
      if (soundBox.checked) this.beep(); // also unlocks audio, which needs a click first
    });
    desktopButton.addEventListener("click", () => this.askDesktop());
    this.renderDesktop();
  }

  get desktopSupported() {
    return typeof window.Notification === "function";
  }

  renderDesktop() {
    if (!this.desktopSupported) {
      this.desktopButton.hidden = true;
      this.desktopState.textContent = "This browser has no desktop notifications.";
      return;
    }
    const permission = Notification.permission;
    this.desktopButton.hidden = permission !== "default";
    this.desktopState.textContent = permission === "granted"
      ? "Desktop notifications are on."
      : permission === "denied"
        ? "Desktop notifications are blocked in this browser's site settings."
        : "";
  }

  async askDesktop() {
    if (!this.desktopSupported) return;
    try {
      await Notification.requestPermission();
    } catch {
      // Older browsers take a callback; the state below says what happened.
    }
    this.renderDesktop();
  }

  /** A short tone made on the spot (no sound file to fetch). */
  beep() {
    try {
      this.audio ??= new AudioContext();
      const tone = this.audio.createOscillator();
      const gain = this.audio.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, this.audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.2, this.audio.currentTime + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, this.audio.currentTime + 0.35);
      tone.connect(gain).connect(this.audio.destination);
      tone.start();
      tone.stop(this.audio.currentTime + 0.4);
    } catch {
      // No audio here: the other alerts still show.
    }
  }

  /** Alert about something new: `title`, `body`, and what a click on the notification does. */
  notify({ title, body, tag, onClick }) {
    if (this.soundBox.checked) this.beep();
    if (!this.desktopSupported || Notification.permission !== "granted") return;
    if (document.visibilityState === "visible" && document.hasFocus()) return; // they see it
    try {
      const shown = new Notification(title, { body, tag });
      shown.onclick = () => {
        window.focus();
        onClick?.();
        shown.close();
      };
    } catch {
      // Some browsers allow notifications only from a service worker.
    }
  }
}
