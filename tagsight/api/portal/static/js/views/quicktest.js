// Quick test: send a local file or an image URL to a trained iteration and see what it finds.

import * as api from "../api.js";
import { h, mount } from "../dom.js";
import { errorBox, openDialog } from "../ui.js";
import { predictionResult } from "./prediction-result.js";

export async function openQuickTest(ctx) {
  const iterationSelect = h("select", { id: "quick-test-iteration" });
  const fileInput = h("input", { type: "file", accept: "image/*", id: "quick-test-file" });
  const urlInput = h("input", { type: "url", id: "quick-test-url", placeholder: "https://example.com/image.jpg" });
  const urlButton = h("button", { type: "submit" }, "Test URL");
  const status = h("div", { "aria-live": "polite" });
  const result = h("div", { id: "quick-test-result" });
  const urlForm = h("form", { class: "inline-form" }, urlInput, urlButton);
  openDialog({
    title: "Quick test",
    wide: true,
    className: "quick-test-dialog",
    body: h("div", { class: "stack" },
      h("div", { class: "quick-test-inputs" },
        h("label", { class: "field" }, h("span", { class: "field-label" }, "Iteration"), iterationSelect),
        h("label", { class: "field" }, h("span", { class: "field-label" }, "Image file"), fileInput),
        h("div", { class: "field" }, h("label", { class: "field-label", for: "quick-test-url" }, "Or an image URL"), urlForm)),
      h("p", { class: "hint" }, "Quick tests are kept under Predictions, where you can add them to the training images."),
      status, result),
  });

  try {
    const completed = (await api.iterations(ctx.project.id))
      .filter((i) => i.status === "Completed")
      .sort((a, b) => b.created.localeCompare(a.created));
    if (!completed.length) {
      mount(status, h("p", { class: "notice" }, "No trained iteration yet: train the project first."));
      fileInput.disabled = urlInput.disabled = urlButton.disabled = true;
      return;
    }
    mount(iterationSelect, completed.map((i) => h("option", { value: i.id }, i.publishName ? `${i.name} (published as ${i.publishName})` : i.name)));
  } catch (err) {
    mount(status, errorBox(err));
    return;
  }

  async function run(send, src) {
    mount(status, h("p", { class: "muted" }, "Testing…"));
    mount(result);
    try {
      const answer = await send();
      mount(status);
      mount(result, predictionResult({ src: src ?? answer.originalImageUri, predictions: answer.predictions, detection: ctx.detection }).el);
    } catch (err) {
      mount(status, errorBox(err));
    }
  }
  fileInput.addEventListener("change", () => {
    const file = fileInput.files[0];
    if (file) run(() => api.quickTestImage(ctx.project.id, file, iterationSelect.value), URL.createObjectURL(file));
  });
  urlForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const url = urlInput.value.trim();
    if (url) run(() => api.quickTestUrl(ctx.project.id, url, iterationSelect.value), url);
  });
}
