// The Suggested tab (smart labeler): untagged images, the ones the latest model is least sure of
// first, with its suggested tags (classification) or boxes (object detection) filled in. Accept,
// correct or reject each one; for classification also in bulk. Rejected images stay untagged and
// leave this list until the next visit.

import * as api from "../api.js";
import { h, mount } from "../dom.js";
import { pct, plural } from "../format.js";
import { clampBox } from "../region-editor.js";
import { errorBox, openDialog, showError, toast } from "../ui.js";
import { openImageDetail } from "./image-detail.js";

const PAGE = 24;

/** What is suggested at `threshold`, by the server's rule: Multiclass its top tag, Multilabel every
 *  tag, detection every box, at or above the threshold. */
export function suggestionsAt(ctx, predictions, threshold) {
  const sorted = [...predictions].sort((a, b) => b.probability - a.probability);
  const kept = ctx.detection || ctx.multilabel ? sorted : sorted.slice(0, 1);
  return kept.filter((p) => p.probability >= threshold);
}

function describe(ctx, suggested) {
  if (!suggested.length) return ctx.detection ? "No boxes at this threshold" : "No suggestion at this threshold";
  if (ctx.detection) return `${plural(suggested.length, "box", "boxes")}: ${suggested[0].tagName} ${pct(suggested[0].probability, 0)}…`;
  return suggested.map((p) => `${p.tagName} ${pct(p.probability, 0)}`).join(", ");
}

/** The thumbnail at the image's own shape, with the suggested boxes drawn on it. */
function thumbnail(ctx, item, suggested) {
  if (!ctx.detection) return h("img", { src: item.thumbnailUri, alt: "", loading: "lazy" });
  return h("span", { class: "suggest-stage", style: { aspectRatio: `${item.width} / ${item.height}` } },
    h("img", { src: item.thumbnailUri, alt: "", loading: "lazy" }),
    suggested.map((p) => h("span", {
      class: "suggest-box",
      style: { left: pct(p.boundingBox.left, 3), top: pct(p.boundingBox.top, 3), width: pct(p.boundingBox.width, 3), height: pct(p.boundingBox.height, 3) },
    })));
}

/** Choose the tags of one image, starting from the suggestion; resolves to tag ids ([] when cancelled). */
function correctTags(ctx, item, suggested, title = "Correct the suggestion") {
  return new Promise((resolve) => {
    let chosen = [];
    const type = ctx.multilabel ? "checkbox" : "radio";
    const have = new Set(suggested.map((p) => p.tagId));
    const probability = Object.fromEntries(item.predictions.map((p) => [p.tagId, p.probability]));
    const inputs = ctx.tags.map((t) => h("input", { type, name: "correct-tag", value: t.id, checked: have.has(t.id) }));
    const save = h("button", { type: "button", class: "primary" }, "Save tags");
    const cancel = h("button", { type: "button" }, "Cancel");
    const { close } = openDialog({
      title,
      wide: true,
      body: h("div", { class: "detail" },
        h("div", { class: "detail-stage" }, h("img", { class: "detail-image", src: item.originalImageUri, alt: "Untagged image" })),
        h("fieldset", { class: "label-form" }, h("legend", {}, "Tags for this image"),
          h("div", { class: "radios" }, ctx.tags.map((t, i) => h("label", { class: "check" }, inputs[i], t.name,
            probability[t.id] != null ? h("span", { class: "muted small" }, pct(probability[t.id], 0)) : null))))),
      actions: [cancel, save],
      onClose: () => resolve(chosen),
    });
    save.addEventListener("click", () => { chosen = inputs.filter((i) => i.checked).map((i) => i.value); close(); });
    cancel.addEventListener("click", close);
  });
}

export async function renderSuggested(container, ctx) {
  const pid = ctx.project.id;
  const trained = (await api.iterations(pid)).filter((i) => i.status === "Completed");
  if (!trained.length) {
    mount(container, h("div", { class: "main-column" }, h("p", { class: "empty" },
      "No trained iteration yet. Train the project: the suggestions come from its latest iteration.")));
    return null;
  }
  const newest = trained.reduce((a, b) => ((a.trainedAt || "") > (b.trainedAt || "") ? a : b));
  const state = {
    iterationId: newest.id, threshold: 0.5, sortBy: "UncertaintyDescending", tagId: "",
    items: [], token: null, total: 0, counts: {}, untagged: 0, selected: new Set(), rejected: new Set(),
  };

  const iterationSelect = h("select", { id: "suggest-iteration", "aria-label": "Iteration" },
    trained.map((i) => h("option", { value: i.id, selected: i.id === state.iterationId }, i.name)));
  const sortSelect = h("select", { id: "suggest-sort", "aria-label": "Order" },
    h("option", { value: "UncertaintyDescending" }, "Most uncertain first"),
    h("option", { value: "UncertaintyAscending" }, "Most certain first"));
  const thresholdInput = h("input", { type: "range", id: "suggest-threshold", min: 0, max: 1, step: 0.05, value: state.threshold, "aria-label": "Suggestion threshold" });
  const thresholdText = h("output", { for: "suggest-threshold" }, pct(state.threshold, 0));
  const sidebar = h("aside", { class: "sidebar", "aria-label": "Suggested tags" });
  const toolbar = h("div", { class: "toolbar", role: "toolbar", "aria-label": "Suggestion actions" });
  const status = h("div", { "aria-live": "polite" });
  const grid = h("ul", { class: "image-grid suggest-grid", "aria-label": "Suggested images" });
  const more = h("button", { type: "button", hidden: true }, "Load more");
  mount(container, h("div", { class: "with-sidebar" }, sidebar,
    h("div", { class: "main-column" },
      h("div", { class: "toolbar" },
        h("label", { class: "check" }, "Iteration ", iterationSelect),
        h("label", { class: "check" }, "Order ", sortSelect),
        h("label", { class: "check" }, "Threshold ", thresholdInput, thresholdText),
        h("button", { type: "button", onClick: () => load(true) }, "Refresh")),
      h("p", { class: "hint" }, ctx.detection
        ? "Untagged images with the boxes the model suggests. Accept keeps the boxes; Correct keeps them and opens the image to fix them; Reject leaves the image untagged."
        : "Untagged images with the tags the model suggests. Accept or correct them one by one, or select several."),
      toolbar, status, grid, more)));

  const visible = () => state.items.filter((i) => !state.rejected.has(i.id));
  const suggestedFor = (item) => suggestionsAt(ctx, item.predictions, state.threshold);

  function renderSidebar() {
    const filter = (tagId, label, count) => h("button", {
      type: "button", class: ["filter", state.tagId === tagId && "active"], "aria-pressed": String(state.tagId === tagId),
      dataset: { tagId }, onClick: () => { state.tagId = tagId; load(true); },
    }, h("span", {}, label), h("span", { class: "count" }, count));
    mount(sidebar,
      h("h2", { class: "sidebar-title" }, "Show"),
      h("div", { class: "filters" }, filter("", "All untagged", state.untagged)),
      h("h2", { class: "sidebar-title" }, `Suggested at ≥ ${pct(state.threshold, 0)}`),
      h("div", { class: "filters", id: "suggested-counts" }, ctx.tags.filter((t) => t.id in state.counts)
        .map((t) => filter(t.id, t.name, state.counts[t.id]))),
      h("p", { class: "hint" }, "Uncertainty is 0 when the model is sure and 100% when it has no idea (see the README)."));
  }

  function renderToolbar() {
    if (ctx.detection) { mount(toolbar); return; }
    const ids = visible().map((i) => i.id);
    const n = state.selected.size;
    const all = ids.length > 0 && ids.every((id) => state.selected.has(id));
    mount(toolbar,
      h("label", { class: "check" }, h("input", {
        type: "checkbox", checked: all, indeterminate: n > 0 && !all, disabled: !ids.length,
        onChange: (e) => { ids.forEach((id) => (e.target.checked ? state.selected.add(id) : state.selected.delete(id))); render(); },
      }), "Select all shown"),
      n ? h("span", { class: "selection-count" }, `${n} selected`) : null,
      n ? h("button", { type: "button", class: "primary", onClick: bulk.accept }, "Accept suggestions") : null,
      n ? h("button", { type: "button", onClick: bulk.tagAs }, "Tag as…") : null,
      n ? h("button", { type: "button", class: "danger-text", onClick: bulk.reject }, "Reject") : null);
  }

  function card(item, index) {
    const suggested = suggestedFor(item);
    const text = describe(ctx, suggested);
    const n = index + 1;
    const selectBox = ctx.detection ? null : h("label", { class: "select-box" }, h("input", {
      type: "checkbox", checked: state.selected.has(item.id), "aria-label": `Select image ${n}`,
      onChange: (e) => { if (e.target.checked) state.selected.add(item.id); else state.selected.delete(item.id); render(); },
    }));
    return h("li", { class: ["image-card", "suggest-card", state.selected.has(item.id) && "selected"], dataset: { imageId: item.id, uncertainty: item.predictionUncertainty } },
      h("button", { type: "button", class: ["thumb-button", ctx.detection && "natural"], onClick: () => act.correct(item), "aria-label": `Correct image ${n}: ${text}` },
        thumbnail(ctx, item, suggested)),
      selectBox,
      h("span", { class: "image-labels suggestion-text", title: text }, text),
      h("span", { class: "uncertainty" },
        h("meter", { min: 0, max: 1, value: item.predictionUncertainty, "aria-label": `Uncertainty of image ${n}` }),
        h("span", { class: "small muted" }, `Uncertainty ${pct(item.predictionUncertainty, 0)}`)),
      h("span", { class: "card-buttons" },
        h("button", { type: "button", class: "small primary", disabled: !suggested.length, "aria-label": `Accept suggestion for image ${n}`, onClick: () => act.accept(item) }, "Accept"),
        h("button", { type: "button", class: "small", "aria-label": `Correct image ${n}`, onClick: () => act.correct(item) }, "Correct…"),
        h("button", { type: "button", class: "small danger-text", "aria-label": `Reject suggestion for image ${n}`, onClick: () => act.reject([item]) }, "Reject")));
  }

  function render() {
    const items = visible();
    for (const id of [...state.selected]) if (!items.some((i) => i.id === id)) state.selected.delete(id);
    renderToolbar();
    renderSidebar();
    mount(grid, items.length
      ? items.map(card)
      : h("li", { class: "empty" }, state.tagId ? "No untagged images are suggested as this tag." : "Nothing left to label: every image is tagged."));
    more.hidden = !state.token?.continuation;
  }

  /** Labelled images leave the list; the counts are fetched again. */
  async function done(ids, message) {
    const gone = new Set(ids);
    state.items = state.items.filter((i) => !gone.has(i.id));
    ids.forEach((id) => state.selected.delete(id));
    render();
    toast(message);
    await loadCounts();
    render();
    if (!visible().length && state.token?.continuation) await load(false);
  }

  async function tagPairs(pairs) {
    await api.inChunks(pairs, 128, (chunk) => api.tagImages(pid, chunk));
  }

  const act = {
    async accept(item) {
      const suggested = suggestedFor(item);
      try {
        if (ctx.detection) {
          await api.addRegions(pid, suggested.map((p) => ({ imageId: item.id, tagId: p.tagId, ...clampBox(p.boundingBox) })));
          await done([item.id], `Added ${plural(suggested.length, "box", "boxes")}.`);
        } else {
          await tagPairs(suggested.map((p) => ({ imageId: item.id, tagId: p.tagId })));
          await done([item.id], `Tagged as ${suggested.map((p) => p.tagName).join(", ")}.`);
        }
      } catch (err) {
        showError(err);
      }
    },
    async correct(item) {
      const suggested = suggestedFor(item);
      try {
        if (ctx.detection) {
          // The suggested boxes become regions, then the editor opens on them to move, resize or delete.
          if (suggested.length) {
            await api.addRegions(pid, suggested.map((p) => ({ imageId: item.id, tagId: p.tagId, ...clampBox(p.boundingBox) })));
          }
          const [image] = await api.imagesByIds(pid, [item.id]);
          openImageDetail(ctx, [image], 0, () => {});
          await done([item.id], suggested.length ? "Boxes added: correct them in the editor." : "Draw the boxes in the editor.");
          return;
        }
        const tagIds = await correctTags(ctx, item, suggested);
        if (!tagIds.length) return;
        await tagPairs(tagIds.map((tagId) => ({ imageId: item.id, tagId })));
        await done([item.id], `Tagged as ${tagIds.map((id) => ctx.tagName(id)).join(", ")}.`);
      } catch (err) {
        showError(err);
      }
    },
    reject(items) {
      items.forEach((i) => { state.rejected.add(i.id); state.selected.delete(i.id); });
      toast(`Rejected ${plural(items.length, "suggestion")}: ${items.length === 1 ? "the image stays" : "the images stay"} untagged.`);
      render();
      if (!visible().length && state.token?.continuation) load(false);
    },
  };

  const chosen = () => visible().filter((i) => state.selected.has(i.id));
  const bulk = {
    async accept() {
      const items = chosen().filter((i) => suggestedFor(i).length);
      const skipped = chosen().length - items.length;
      try {
        await tagPairs(items.flatMap((i) => suggestedFor(i).map((p) => ({ imageId: i.id, tagId: p.tagId }))));
        await done(items.map((i) => i.id), `Accepted ${plural(items.length, "suggestion")}.` + (skipped ? ` ${plural(skipped, "image")} had no suggestion at this threshold.` : ""));
      } catch (err) {
        showError(err);
      }
    },
    async tagAs() {
      const items = chosen();
      const first = { predictions: [], originalImageUri: items[0].originalImageUri };
      const tagIds = await correctTags(ctx, first, [], `Tag ${plural(items.length, "selected image")}`);
      if (!tagIds.length) return;
      try {
        await tagPairs(items.flatMap((i) => tagIds.map((tagId) => ({ imageId: i.id, tagId }))));
        await done(items.map((i) => i.id), `Tagged ${plural(items.length, "image")} as ${tagIds.map((id) => ctx.tagName(id)).join(", ")}.`);
      } catch (err) {
        showError(err);
      }
    },
    reject() { act.reject(chosen()); },
  };

  async function loadCounts() {
    const [counts, untagged] = await Promise.all([
      api.suggestedCount(pid, state.iterationId, { threshold: state.threshold }),
      api.imageCount(pid, { taggingStatus: "Untagged" }),
    ]);
    Object.assign(state, { counts, untagged });
  }

  let loads = 0;
  async function load(reset) {
    const seq = ++loads;
    const token = reset
      ? { maxCount: PAGE, sortBy: state.sortBy, tagIds: state.tagId ? [state.tagId] : undefined, threshold: state.tagId ? state.threshold : undefined }
      : state.token;
    grid.setAttribute("aria-busy", "true");
    if (reset) mount(status, h("p", { class: "hint" }, "Asking the model about the untagged images…"));
    try {
      const [answer] = await Promise.all([api.querySuggested(pid, state.iterationId, token), reset ? loadCounts() : null]);
      if (seq !== loads) return;
      state.items = reset ? answer.results : state.items.concat(answer.results);
      state.token = answer.token;
      mount(status);
      render();
    } catch (err) {
      if (seq === loads) mount(status, errorBox(err));
    } finally {
      if (seq === loads) grid.removeAttribute("aria-busy");
    }
  }

  iterationSelect.addEventListener("change", () => { state.iterationId = iterationSelect.value; load(true); });
  sortSelect.addEventListener("change", () => { state.sortBy = sortSelect.value; load(true); });
  thresholdInput.addEventListener("input", () => { state.threshold = Number(thresholdInput.value); thresholdText.value = pct(state.threshold, 0); render(); });
  thresholdInput.addEventListener("change", () => (state.tagId ? load(true) : loadCounts().then(render).catch(showError)));
  more.addEventListener("click", () => load(false));
  await load(true);
  return null;
}
