// Tags on the open ticket: shown as chips with a remove button each, added from a box that
// suggests the tags in use (a <datalist>). Changes go through ticket:update's add_tags and
// remove_tags, applied by the server to the tags as stored.

const TAG = /^[\p{L}\p{N}_][\p{L}\p{N}_.-]*$/u;

/** A tag as the server stores it: lower-case, spaces as "-". Null when it is not one. */
export function normaliseTag(value) {
  const tag = value.trim().toLowerCase().split(/\s+/).filter(Boolean).join("-");
  return tag && tag.length <= 32 && TAG.test(tag) ? tag : null;
}

export class TagEditor {
  /** change({add_tags} | {remove_tags}): resolves when stored; suggestions(): the tags in use. */
  constructor({ list, form, input, button, datalist, change, onError }) {
    this.list = list;
    this.form = form;
    this.input = input;
    this.button = button;
    this.datalist = datalist;
    this.change = change;
    this.onError = onError;
    this.tags = [];
    this.enabled = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const tag = normaliseTag(this.input.value);
      if (!tag) {
        this.onError(this.input.value.trim()
          ? "A tag is letters, digits, - _ and . only (at most 32)."
          : null);
        return;
      }
      if (await this.send({ add_tags: [tag] })) this.input.value = "";
    });
    list.addEventListener("click", (event) => {
      const remove = event.target.closest("[data-remove-tag]");
      if (remove) this.send({ remove_tags: [remove.dataset.removeTag] });
    });
  }

  async send(change) {
    this.setBusy(true);
    try {
      await this.change(change);
      return true;
    } catch (error) {
      this.onError(`Could not change the tags. ${error.message}`);
      return false;
    } finally {
      this.setBusy(false);
    }
  }

  setBusy(busy) {
    this.busy = busy;
    this.render(this.tags, this.enabled);
  }

  setSuggestions(tags) {
    this.datalist.replaceChildren(...tags.map((tag) => {
      const option = document.createElement("option");
      option.value = tag;
      return option;
    }));
  }

  render(tags, enabled) {
    this.tags = tags ?? [];
    this.enabled = enabled;
    const off = !enabled || this.busy;
    this.input.disabled = off;
    this.button.disabled = off;
    this.list.replaceChildren(...this.tags.map((tag) => {
      const li = document.createElement("li");
      li.className = "tag";
      const name = document.createElement("span");
      name.textContent = tag;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "tag__remove";
      remove.dataset.removeTag = tag;
      remove.disabled = off;
      remove.setAttribute("aria-label", `Remove tag ${tag}`);
      remove.textContent = "×";
      li.append(name, remove);
      return li;
    }));
  }
}
