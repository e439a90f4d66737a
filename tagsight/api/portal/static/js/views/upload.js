// The upload dialog: drop or pick many files, choose tags, send in batches of up to 64 with a
// progress bar, then list every file's result in words (added, duplicate, or refused and why).

import * as api from "../api.js";
import { h, mount } from "../dom.js";
import { plural, uploadOk, uploadStatusText } from "../format.js";
import { errorText, openDialog, progressBar, showError } from "../ui.js";

const BATCH_FILES = 64; // Azure's images-per-batch limit
const BATCH_BYTES = 48 * 1024 * 1024; // keep single requests moderate
const MAX_FILE_BYTES = 6 * 1024 * 1024; // Azure's training image size limit

function batches(files) {
  const out = [];
  let current = [];
  let bytes = 0;
  for (const file of files) {
    if (current.length && (current.length >= BATCH_FILES || bytes + file.size > BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += file.size;
  }
  if (current.length) out.push(current);
  return out;
}

const megabytes = (n) => `${(n / 1024 / 1024).toFixed(1)} MB`;

export function openUpload(ctx, onDone) {
  let files = [];
  let cancelled = false;
  let uploaded = false;
  const input = h("input", { type: "file", multiple: true, accept: "image/*", id: "upload-input", class: "visually-hidden" });
  const pick = h("button", { type: "button", onClick: () => input.click() }, "Choose files");
  const drop = h("div", { class: "dropzone", id: "dropzone" },
    h("p", {}, "Drag and drop images here, or"), pick,
    h("p", { class: "hint" }, "JPEG, PNG, BMP, GIF or WebP, up to 6 MB each. Hundreds at once are fine."), input);
  const picked = h("p", { class: "picked", "aria-live": "polite" }, "No files chosen.");
  const tagBoxes = ctx.detection ? [] : ctx.tags.map((t) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", value: t.id, name: "upload-tag" }), t.name));
  const tagSection = ctx.detection
    ? h("p", { class: "hint" }, "Object detection: open each image after uploading and draw boxes around the objects.")
    : h("fieldset", { class: "upload-tags" }, h("legend", {}, "Tags to apply to every image"),
      tagBoxes.length ? h("div", { class: "check-list" }, tagBoxes) : h("p", { class: "hint" }, "No tags yet: add tags in the sidebar, or tag the images later."));
  const progress = progressBar("Upload progress");
  progress.hidden = true;
  const summary = h("p", { class: "upload-summary", "aria-live": "polite" });
  const results = h("ol", { class: "upload-results", "aria-label": "Upload results" });
  const start = h("button", { type: "button", class: "primary", id: "start-upload", disabled: true }, "Upload");
  const closeButton = h("button", { type: "button" }, "Cancel");

  function addFiles(list) {
    files = files.concat([...list]);
    const bytes = files.reduce((n, f) => n + f.size, 0);
    picked.textContent = `${plural(files.length, "file")} chosen (${megabytes(bytes)}).`;
    start.disabled = files.length === 0;
  }
  input.addEventListener("change", () => addFiles(input.files));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    addFiles(e.dataTransfer.files); // anything dropped is sent: the server says why it refuses a file
  });

  function report(file, status, message) {
    const ok = uploadOk(status);
    results.append(h("li", { class: ["result", ok ? (status === "OK" ? "ok" : "duplicate") : "refused"], dataset: { status } },
      h("span", { class: "file-name" }, file.name), h("span", { class: "file-status" }, message || uploadStatusText(status))));
  }

  async function upload() {
    const tagIds = tagBoxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
    const counts = { added: 0, duplicates: 0, refused: 0 };
    const tooBig = files.filter((f) => f.size > MAX_FILE_BYTES);
    const sendable = files.filter((f) => f.size <= MAX_FILE_BYTES);
    start.disabled = pick.disabled = input.disabled = true;
    progress.hidden = false;
    mount(results);
    for (const file of tooBig) { report(file, "ErrorImageSize"); counts.refused += 1; }
    let done = tooBig.length;
    progress.set(done / files.length, `${done} of ${files.length}`);
    for (const batch of batches(sendable)) {
      if (cancelled) break;
      try {
        const answer = await api.uploadImages(ctx.project.id, batch, tagIds);
        batch.forEach((file, i) => {
          const status = answer.images[i]?.status || "ErrorUnknown";
          report(file, status);
          if (status === "OK") counts.added += 1; else if (status === "OKDuplicate") counts.duplicates += 1; else counts.refused += 1;
        });
      } catch (err) {
        // The whole batch was refused (e.g. a tag was deleted meanwhile): every file gets the reason.
        batch.forEach((file) => report(file, "Error", errorText(err)));
        counts.refused += batch.length;
      }
      done += batch.length;
      progress.set(done / files.length, `${done} of ${files.length}`);
    }
    uploaded = true;
    summary.textContent = `${plural(counts.added, "image")} added, ${plural(counts.duplicates, "duplicate")}, ${counts.refused} refused.`;
    closeButton.textContent = "Done";
    closeButton.focus();
  }

  const { close } = openDialog({
    title: "Add images",
    wide: true,
    className: "upload-dialog",
    body: h("div", { class: "stack" }, drop, picked, tagSection, progress, summary, results),
    actions: [closeButton, start],
    onClose: () => {
      cancelled = true;
      if (uploaded) onDone();
    },
  });
  closeButton.addEventListener("click", close);
  start.addEventListener("click", () => upload().catch(showError));
}
