// The predictions tab: images sent for prediction (quick tests, and published-model calls that
// stored them), with their results. Tag one, or accept its boxes, and add it to the training images.

import * as api from "../api.js";
import { h, mount } from "../dom.js";
import { pct, plural, uploadOk, uploadStatusText, when } from "../format.js";
import { confirmDialog, errorBox, openDialog, showError, toast } from "../ui.js";
import { MAX_SHOWN, predictionResult } from "./prediction-result.js";

const PAGE = 48;

function summaryText(prediction, detection) {
  const sorted = [...prediction.predictions].sort((a, b) => b.probability - a.probability);
  if (detection) return plural(sorted.filter((p) => p.probability >= 0.5).length, "object") + " at ≥ 50%";
  return sorted[0] ? `${sorted[0].tagName} ${pct(sorted[0].probability, 0)}` : "No tags";
}

/** The "add to training images" form: tags (classification) or boxes (detection) to keep. */
function labelForm(ctx, prediction, threshold) {
  const sorted = [...prediction.predictions].sort((a, b) => b.probability - a.probability);
  if (!ctx.detection) {
    const suggested = new Set(ctx.multilabel
      ? sorted.filter((p) => p.probability >= Math.max(threshold, 0.5)).map((p) => p.tagId)
      : sorted.slice(0, 1).map((p) => p.tagId));
    const boxes = ctx.tags.map((t) => h("label", { class: "check" }, h("input", { type: "checkbox", value: t.id, checked: suggested.has(t.id) }), t.name));
    return {
      el: h("fieldset", { class: "label-form" }, h("legend", {}, "Tags for this image"), h("div", { class: "check-list" }, boxes)),
      entry: () => ({ tagIds: boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value) }),
    };
  }
  const rows = sorted.filter((p) => p.probability >= threshold).slice(0, MAX_SHOWN).map((p) => {
    const keep = h("input", { type: "checkbox", checked: true, "aria-label": `Keep box ${p.tagName} ${pct(p.probability, 0)}` });
    const tag = h("select", { "aria-label": "Tag of this box" }, ctx.tags.filter((t) => t.type !== "Negative").map((t) => h("option", { value: t.id, selected: t.id === p.tagId }, t.name)));
    return { p, keep, tag, el: h("li", { class: "box-row" }, keep, tag, h("span", { class: "muted small" }, pct(p.probability, 0))) };
  });
  return {
    el: h("fieldset", { class: "label-form" }, h("legend", {}, "Boxes to keep"),
      rows.length ? h("ul", { class: "plain" }, rows.map((r) => r.el)) : h("p", { class: "muted" }, "No boxes at or above the threshold: lower it to see more.")),
    entry: () => ({
      regions: rows.filter((r) => r.keep.checked).map((r) => ({ tagId: r.tag.value, ...r.p.boundingBox })),
    }),
  };
}

function openPrediction(ctx, prediction, onAdded, onDeleted) {
  const formSlot = h("div", {});
  const status = h("div", { "aria-live": "polite" });
  let form = null;
  const result = predictionResult({
    src: prediction.originalImageUri,
    predictions: prediction.predictions,
    detection: ctx.detection,
    onThreshold: (t) => { form = labelForm(ctx, prediction, t); mount(formSlot, form.el); },
  });
  form = labelForm(ctx, prediction, result.threshold());
  mount(formSlot, form.el);
  const add = h("button", { type: "button", class: "primary", id: "add-to-training" }, "Add to training images");
  const remove = h("button", { type: "button", class: "danger-text" }, "Delete prediction");
  const { close } = openDialog({
    title: `Prediction of ${when(prediction.created)}`,
    wide: true,
    className: "prediction-dialog",
    body: h("div", { class: "stack" }, result.el, formSlot, status),
    actions: [remove, h("span", { class: "spacer" }), add],
  });
  add.addEventListener("click", async () => {
    const entry = { id: prediction.id, ...form.entry() };
    if (!entry.tagIds?.length && !entry.regions?.length) {
      mount(status, h("p", { class: "error", role: "alert" }, ctx.detection ? "Keep at least one box." : "Choose at least one tag."));
      return;
    }
    add.disabled = true;
    mount(status);
    try {
      const summary = await api.createImagesFromPredictions(ctx.project.id, [entry]);
      const outcome = summary.images?.[0]?.status || "ErrorUnknown";
      if (!uploadOk(outcome)) throw new Error(`Not added: ${uploadStatusText(outcome)}.`);
      toast(outcome === "OK" ? "Added to the training images." : uploadStatusText(outcome));
      // As in Azure's portal, a prediction that became a training image leaves the list.
      await api.deletePredictions(ctx.project.id, [prediction.id]).catch(showError);
      onAdded(prediction);
      close();
    } catch (err) {
      const gone = err.status === 404 && err.code === "NotFound";
      mount(status, errorBox(gone ? new Error(`This server cannot add predictions to the training images yet: ${err.message}`) : err));
    } finally {
      add.disabled = false;
    }
  });
  remove.addEventListener("click", async () => {
    if (!(await confirmDialog({ title: "Delete prediction?", message: "Delete this stored prediction and its image?", confirmLabel: "Delete", danger: true }))) return;
    try {
      await api.deletePredictions(ctx.project.id, [prediction.id]);
      onDeleted(prediction);
      close();
    } catch (err) {
      showError(err);
    }
  });
}

export async function renderPredictions(container, ctx) {
  const pid = ctx.project.id;
  const state = { items: [], token: null, iterationId: "" };
  const iterationSelect = h("select", { id: "prediction-iteration", "aria-label": "Iteration" }, h("option", { value: "" }, "All iterations"));
  const grid = h("ul", { class: "image-grid predictions-grid", "aria-label": "Stored predictions" });
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const status = h("div", { "aria-live": "polite" });
  mount(container, h("div", { class: "main-column" },
    h("div", { class: "toolbar" }, h("label", { class: "check" }, "Iteration ", iterationSelect),
      h("button", { type: "button", onClick: () => load(true) }, "Refresh")),
    h("p", { class: "hint" }, "Images sent to Quick test or to a published model (unless sent to /nostore) are kept here."),
    status, grid, more));

  const removeItem = (p) => { state.items = state.items.filter((x) => x.id !== p.id); render(); };
  function render() {
    if (!state.items.length) {
      mount(grid, h("li", { class: "empty" }, "No stored predictions. Use ", h("strong", {}, "Quick test"), " or call a published model."));
    } else {
      mount(grid, state.items.map((p) => h("li", { class: "image-card", dataset: { predictionId: p.id } },
        h("button", { type: "button", class: "thumb-button", onClick: () => openPrediction(ctx, p, removeItem, removeItem), "aria-label": `Open prediction: ${summaryText(p, ctx.detection)}` },
          h("img", { src: p.thumbnailUri, alt: "", loading: "lazy" })),
        h("span", { class: "image-labels" }, summaryText(p, ctx.detection)))));
    }
    more.hidden = !state.token?.continuation;
  }

  async function load(reset) {
    const token = reset ? { maxCount: PAGE, orderBy: "Newest", iterationId: state.iterationId || undefined } : state.token;
    try {
      const answer = await api.queryPredictions(pid, token);
      state.items = reset ? answer.results : state.items.concat(answer.results);
      state.token = answer.token;
      mount(status);
      render();
    } catch (err) {
      mount(status, errorBox(err));
    }
  }
  more.addEventListener("click", () => load(false));
  iterationSelect.addEventListener("change", () => { state.iterationId = iterationSelect.value; load(true); });
  try {
    const its = await api.iterations(pid);
    iterationSelect.append(...its.filter((i) => i.status === "Completed").map((i) => h("option", { value: i.id }, i.name)));
  } catch (err) {
    showError(err);
  }
  await load(true);
  return null;
}
