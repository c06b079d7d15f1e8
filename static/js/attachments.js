// Attachments, shared by the widget and the dashboard: how a file in a message looks (an
// image as a thumbnail, anything else as a link), and the ways to pick one (a button,
// drag and drop, paste). Uploading is Conversation.sendFile in chat-core.js.

// Where the cookie is blocked (the framed widget), files are fetched with the guest's token
// in a header and shown from a blob: URL; set by the page.
let fetchHeaders = null;

export function useTokenForFiles(headers) {
  fetchHeaders = headers;
}

function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

async function blobUrl(url) {
  const response = await fetch(url, { headers: fetchHeaders(), credentials: "same-origin" });
  if (!response.ok) throw new Error(String(response.status));
  return URL.createObjectURL(await response.blob());
}

/** The element showing an attachment ({name, size, type, image, url}); text only, no HTML. */
export function attachmentElement(file) {
  const link = document.createElement("a");
  link.className = "attachment";
  link.href = file.url;
  link.rel = "noopener";
  link.target = "_blank";
  if (file.image) {
    const img = document.createElement("img");
    img.className = "attachment__thumb";
    img.alt = file.name;
    img.loading = "lazy";
    link.append(img);
    if (fetchHeaders) {
      blobUrl(file.url).then((url) => {
        img.src = url;
        link.href = url;
      }, () => {});
    } else {
      img.src = file.url;
    }
  } else {
    link.download = file.name;
    const name = document.createElement("span");
    name.className = "attachment__name";
    name.textContent = file.name;
    const size = document.createElement("span");
    size.className = "attachment__size";
    size.textContent = sizeText(file.size);
    link.append(name, " ", size);
    if (fetchHeaders) {
      // Fetched when clicked: a header cannot ride on a plain link.
      link.addEventListener("click", async (event) => {
        if (link.dataset.ready) return;
        event.preventDefault();
        try {
          link.href = await blobUrl(file.url);
          link.dataset.ready = "1";
          link.removeAttribute("target");
          link.click();
        } catch {
          /* the file is gone or no longer ours: nothing to open */
        }
      });
    }
  }
  return link;
}

/**
 * Wire the ways to pick files: `button` opens `input` (type=file), files dropped on
 * `dropZone` or pasted into `pasteTarget` are sent too. `onFiles(files)` gets each batch;
 * `enabled()` says whether sending is possible now.
 */
export function bindAttachments({ button, input, dropZone, pasteTarget, onFiles, enabled = () => true }) {
  button.addEventListener("click", () => {
    if (enabled()) input.click();
  });
  input.addEventListener("change", () => {
    if (input.files?.length) onFiles([...input.files]);
    input.value = "";
  });
  dropZone?.addEventListener("dragover", (event) => {
    if (!enabled() || !event.dataTransfer?.types?.includes("Files")) return;
    event.preventDefault();
    dropZone.classList.add("is-dropping");
  });
  dropZone?.addEventListener("dragleave", () => dropZone.classList.remove("is-dropping"));
  dropZone?.addEventListener("drop", (event) => {
    dropZone.classList.remove("is-dropping");
    const files = [...(event.dataTransfer?.files ?? [])];
    if (!files.length || !enabled()) return;
    event.preventDefault();
    onFiles(files);
  });
  pasteTarget?.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files ?? [])];
    if (!files.length || !enabled()) return;
    event.preventDefault();
    onFiles(files);
  });
}
