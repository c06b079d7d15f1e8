// A text box that suggests as one types (the ARIA combobox pattern, list autocomplete):
// the person and ticket filters of the audit page. What is typed finds; what is chosen
// (an id, in a hidden input) filters. Arrow keys move through the suggestions, Enter takes
// one (the first, when none is highlighted), Escape closes them.

const WAIT_MS = 150; // typing pause before asking the server

export function combobox({ input, list, hint, hidden, search, nothing, onChange }) {
  let chosen = null; // {id, label}
  let items = [];
  let active = -1;
  let timer = null;
  let asked = 0;

  function setHint(message) {
    hint.textContent = message ?? "";
    hint.hidden = !message;
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    active = index;
    for (const [i, li] of [...list.children].entries()) li.setAttribute("aria-selected", String(i === index));
    if (index >= 0) {
      const li = list.children[index];
      input.setAttribute("aria-activedescendant", li.id);
      li.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function render() {
    list.replaceChildren(...items.map((item, index) => {
      const li = document.createElement("li");
      li.id = `${list.id}-${index}`;
      li.className = "combo__option";
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      const label = document.createElement("span");
      label.className = "combo__label";
      label.textContent = item.label;
      li.append(label);
      if (item.detail) {
        const detail = document.createElement("span");
        detail.className = "combo__detail";
        detail.textContent = item.detail;
        li.append(detail);
      }
      // mousedown, not click: the text box keeps the focus.
      li.addEventListener("mousedown", (event) => {
        event.preventDefault();
        choose(item);
      });
      return li;
    }));
    const open = items.length > 0 && document.activeElement === input;
    list.hidden = !open;
    input.setAttribute("aria-expanded", String(open));
    highlight(-1);
  }

  async function suggest() {
    const text = input.value.trim();
    const mine = ++asked;
    if (!text) {
      items = [];
      render();
      setHint(null);
      return;
    }
    try {
      const found = await search(text);
      if (mine !== asked) return;
      items = found;
      render();
      setHint(found.length ? null : nothing(text));
    } catch (error) {
      if (mine !== asked) return;
      items = [];
      render();
      setHint(error.message);
    }
  }

  function choose(item, { quiet = false } = {}) {
    chosen = item;
    input.value = item.label;
    hidden.value = item.id;
    items = [];
    close();
    setHint(null);
    if (!quiet) onChange?.();
  }

  function clear() {
    chosen = null;
    input.value = "";
    hidden.value = "";
    items = [];
    close();
    setHint(null);
  }

  input.addEventListener("input", () => {
    if (chosen && input.value !== chosen.label) {
      chosen = null;
      hidden.value = "";
      onChange?.(); // the filter is gone as soon as its name is edited
    }
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      suggest();
    }, WAIT_MS);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (list.hidden) {
        if (items.length) {
          list.hidden = false;
          input.setAttribute("aria-expanded", "true");
        } else {
          return;
        }
      }
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      highlight((active + step + items.length) % items.length);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (timer) { // typed faster than the suggestions came: ask now, take the first
        clearTimeout(timer);
        timer = null;
        suggest().then(() => items.length && choose(items[0]));
      } else if (!list.hidden && items.length) {
        choose(items[Math.max(active, 0)]);
      }
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      event.stopPropagation();
      close();
    }
  });

  input.addEventListener("blur", () => close());
  input.addEventListener("focus", () => {
    if (items.length) render();
  });

  setHint(null);
  return {
    value: () => hidden.value,
    typed: () => input.value.trim() !== "",
    clear,
    choose,
  };
}
