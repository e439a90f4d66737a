// Publishing an iteration, and the "Prediction URL" panel: the exact URLs and headers to call,
// with copyable curl and Python SDK snippets.

import * as api from "../api.js";
import { field, h, mount } from "../dom.js";
import { errorBox, openDialog, toast } from "../ui.js";

const KEY_PLACEHOLDER = "<your prediction key>";

/** Azure's publish names: letters, digits, '-', '_' or '.', starting with a letter or digit. */
const publishNameFrom = (name) => name.replace(/[^A-Za-z0-9._-]/g, "").replace(/^[^A-Za-z0-9]+/, "") || "model";

/** Resolves true once published. */
export function openPublishDialog(ctx, it) {
  return new Promise((resolve) => {
    let published = false;
    const name = h("input", { type: "text", name: "publishName", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]{0,254}", value: publishNameFrom(it.name) });
    const resource = h("input", { type: "text", name: "predictionResource", required: true, value: "tagsight" });
    const errors = h("div", { "aria-live": "polite" });
    const submit = h("button", { type: "submit", class: "primary", id: "confirm-publish" }, "Publish");
    const cancel = h("button", { type: "button" }, "Cancel");
    const form = h("form", { class: "stack" },
      field("Model name", name, "Apps call the model by this name. Letters, digits, '-', '_' and '.'."),
      field("Prediction resource", resource, "Azure asks which prediction resource serves the model; Tagsight serves every published model itself, so any label works."),
      errors, h("div", { class: "dialog-actions inline" }, cancel, submit));
    const { close } = openDialog({ title: `Publish ${it.name}`, body: form, onClose: () => resolve(published) });
    cancel.addEventListener("click", close);
    name.select();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      mount(errors);
      try {
        await api.publish(ctx.project.id, it.id, name.value.trim(), resource.value.trim());
        published = true;
        toast(`Published ${it.name} as “${name.value.trim()}”.`);
        close();
      } catch (err) {
        mount(errors, errorBox(err));
      } finally {
        submit.disabled = false;
      }
    });
  });
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard permission (e.g. plain http on another host): select the text instead.
    const range = document.createRange();
    range.selectNodeContents(button.previousElementSibling);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    document.execCommand("copy");
  }
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
}

function snippet(label, text, id) {
  const code = h("pre", { class: "code", id }, h("code", {}, text));
  const button = h("button", { type: "button", class: "small copy", "aria-label": `Copy ${label}` }, "Copy");
  button.addEventListener("click", () => copy(text, button));
  return h("div", { class: "snippet" }, h("h4", {}, label), h("div", { class: "code-wrap" }, code, button));
}

/** What the panel shows, for one key (or the placeholder). */
export function predictionSnippets({ origin, projectId, publishName, detection, key }) {
  const verb = detection ? "detect" : "classify";
  const base = `${origin}${api.PREDICTION_BASE}/${projectId}/${verb}/iterations/${encodeURIComponent(publishName)}`;
  const sdkCall = detection ? "detect_image" : "classify_image";
  const printLine = detection
    ? `    box = p.bounding_box\n    print(p.tag_name, round(p.probability, 3), box.left, box.top, box.width, box.height)`
    : "    print(p.tag_name, round(p.probability, 3))";
  return {
    urlUrl: `${base}/url`,
    imageUrl: `${base}/image`,
    curl: `curl -X POST "${base}/image" \\\n  -H "Prediction-Key: ${key}" \\\n  -H "Content-Type: application/octet-stream" \\\n  --data-binary @image.jpg`,
    curlUrl: `curl -X POST "${base}/url" \\\n  -H "Prediction-Key: ${key}" \\\n  -H "Content-Type: application/json" \\\n  -d '{"Url": "https://example.com/image.jpg"}'`,
    python: [
      "from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient",
      "from msrest.authentication import ApiKeyCredentials",
      "",
      `credentials = ApiKeyCredentials(in_headers={"Prediction-key": "${key}"})`,
      `predictor = CustomVisionPredictionClient("${origin}", credentials)`,
      'with open("image.jpg", "rb") as f:',
      `    result = predictor.${sdkCall}("${projectId}", "${publishName}", f.read())`,
      "for p in result.predictions:",
      printLine,
    ].join("\n"),
  };
}

export function openPredictionUrl(ctx, it) {
  const keyInput = h("input", { type: "text", id: "prediction-key", value: api.keys.prediction, placeholder: "Paste it to fill in the snippets", autocomplete: "off", spellcheck: "false" });
  const content = h("div", { class: "stack" });
  function render() {
    const key = keyInput.value.trim() || KEY_PLACEHOLDER;
    const s = predictionSnippets({ origin: location.origin, projectId: ctx.project.id, publishName: it.publishName, detection: ctx.detection, key });
    mount(content,
      h("section", { class: "endpoint" }, h("h3", {}, "If you have an image URL"),
        h("dl", {}, h("dt", {}, "POST"), h("dd", {}, h("code", { id: "url-endpoint" }, s.urlUrl)),
          h("dt", {}, "Headers"), h("dd", {}, h("code", {}, `Prediction-Key: ${key}`), h("br"), h("code", {}, "Content-Type: application/json")),
          h("dt", {}, "Body"), h("dd", {}, h("code", {}, '{"Url": "https://example.com/image.jpg"}')))),
      h("section", { class: "endpoint" }, h("h3", {}, "If you have an image file"),
        h("dl", {}, h("dt", {}, "POST"), h("dd", {}, h("code", { id: "image-endpoint" }, s.imageUrl)),
          h("dt", {}, "Headers"), h("dd", {}, h("code", {}, `Prediction-Key: ${key}`), h("br"), h("code", {}, "Content-Type: application/octet-stream")),
          h("dt", {}, "Body"), h("dd", {}, "the image bytes"))),
      snippet("curl (image file)", s.curl, "curl-snippet"),
      snippet("curl (image URL)", s.curlUrl, "curl-url-snippet"),
      snippet("Python (official Azure SDK)", s.python, "python-snippet"));
  }
  keyInput.addEventListener("input", () => { api.keys.prediction = keyInput.value.trim(); render(); });
  render();
  openDialog({
    title: `Prediction URL · ${it.publishName}`,
    wide: true,
    className: "prediction-url-dialog",
    body: h("div", { class: "stack" },
      h("label", { class: "field" }, h("span", { class: "field-label" }, "Prediction key"), keyInput,
        h("span", { class: "hint" }, "The portal only knows your training key. ", h("code", {}, "tagsight keys"),
          " prints the prediction key; what you paste stays in this browser tab.")),
      content),
  });
}
