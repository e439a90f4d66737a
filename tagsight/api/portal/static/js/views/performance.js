// The performance tab: iterations list; live training progress; precision, recall and AP (mAP)
// overall and per tag at a chosen threshold; precision–recall curves, a confusion matrix
// (multiclass) and the images the model got wrong, computed from /performance/images.

import * as api from "../api.js";
import { confusionTable, imageWithBoxes, prChart } from "../charts.js";
import { debounce, h, mount } from "../dom.js";
import { pct, plural, when } from "../format.js";
import { confusion, mistakes, pointAt, prCurve } from "../metrics.js";
import { confirmDialog, errorBox, progressBar, showError, toast } from "../ui.js";
import { openPredictionUrl, openPublishDialog } from "./publish.js";

const POLL_MS = 1000;

function iterationItem(ctx, it, selectedId) {
  const badge = it.publishName ? h("span", { class: "badge ok" }, `Published: ${it.publishName}`) : null;
  return h("li", {},
    h("a", {
      class: ["iteration-link", it.id === selectedId && "active"],
      href: `#/projects/${ctx.project.id}/performance/${it.id}`,
      "aria-current": it.id === selectedId ? "true" : null,
    },
    h("span", { class: "iteration-name" }, it.name),
    h("span", { class: ["status", it.status.toLowerCase()] }, it.status === "Training" ? `Training ${Math.round(it.trainingProgress * 100)}%` : it.status),
    h("span", { class: "muted small" }, when(it.trainedAt || it.created)), badge));
}

function slider(label, id, value, onInput) {
  const input = h("input", { type: "range", id, min: 0, max: 100, step: 1, value: Math.round(value * 100) });
  const output = h("output", { for: id }, `${Math.round(value * 100)}%`);
  input.addEventListener("input", () => {
    output.textContent = `${input.value}%`;
    onInput(Number(input.value) / 100);
  });
  return h("div", { class: "slider" }, h("label", { for: id }, label), input, output);
}

const figure = (label, value, id) => h("div", { class: "figure", id }, h("span", { class: "figure-value" }, pct(value)), h("span", { class: "figure-label" }, label));

/** The figures and analyses of one completed iteration; returns nothing, renders into `el`. */
async function completedDetail(el, ctx, it, reloadList) {
  const pid = ctx.project.id;
  const detection = ctx.detection;
  const state = { threshold: 0.5, overlap: 0.3, images: null };
  const figures = h("div", { class: "figures", "aria-live": "polite" });
  const perTag = h("div", { class: "table-wrap" });
  const curves = h("div", { class: "pr-grid" });
  const matrix = h("div", { class: "table-wrap" });
  const wrong = h("div", {});

  const publishButton = it.publishName
    ? h("button", { type: "button", id: "unpublish" }, "Unpublish")
    : h("button", { type: "button", class: "primary", id: "publish" }, "Publish");
  const urlButton = h("button", { type: "button", id: "prediction-url", disabled: !it.publishName }, "Prediction URL");
  const deleteButton = h("button", { type: "button", class: "danger-text" }, "Delete iteration");
  publishButton.addEventListener("click", async () => {
    if (!it.publishName) {
      if (await openPublishDialog(ctx, it)) reloadList();
      return;
    }
    const ok = await confirmDialog({ title: "Unpublish?", message: `Apps calling “${it.publishName}” will get errors until another iteration is published under that name.`, confirmLabel: "Unpublish", danger: true });
    if (!ok) return;
    try { await api.unpublish(pid, it.id); toast(`Unpublished ${it.name}.`); reloadList(); } catch (err) { showError(err); }
  });
  urlButton.addEventListener("click", () => openPredictionUrl(ctx, it));
  deleteButton.addEventListener("click", async () => {
    const ok = await confirmDialog({ title: "Delete iteration?", message: `Delete ${it.name} and its model? This cannot be undone.`, confirmLabel: "Delete", danger: true });
    if (!ok) return;
    try { await api.deleteIteration(pid, it.id); location.hash = `#/projects/${pid}/performance`; } catch (err) { showError(err); }
  });

  async function loadFigures() {
    try {
      const perf = await api.performance(pid, it.id, { threshold: state.threshold, overlapThreshold: detection ? state.overlap : undefined });
      mount(figures,
        figure("Precision", perf.precision, "fig-precision"),
        figure("Recall", perf.recall, "fig-recall"),
        figure(detection ? "mAP" : "AP", perf.averagePrecision, "fig-ap"));
      mount(perTag, h("table", { class: "per-tag" },
        h("caption", {}, `Per tag at probability ${pct(state.threshold, 0)}${detection ? `, overlap ${pct(state.overlap, 0)}` : ""}`),
        h("thead", {}, h("tr", {}, ["Tag", "Precision", "Recall", detection ? "mAP" : "AP"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, perf.perTagPerformance.map((t) => h("tr", {},
          h("th", { scope: "row" }, t.name), h("td", {}, pct(t.precision)), h("td", {}, pct(t.recall)), h("td", {}, pct(t.averagePrecision)))))));
    } catch (err) {
      mount(figures, errorBox(err));
    }
  }
  const loadFiguresSoon = debounce(loadFigures, 250);

  function renderAnalyses() {
    if (!state.images) return;
    const overlap = detection ? state.overlap : undefined;
    const tags = ctx.tags.filter((t) => state.images.some((i) => (i.tags || []).some((x) => x.tagId === t.id) || (i.regions || []).some((r) => r.tagId === t.id)));
    mount(curves, tags.map((t) => {
      const { points } = prCurve(state.images, t.id, overlap);
      return prChart({ title: t.name, points, marker: pointAt(points, state.threshold) });
    }));
    if (!detection && !ctx.multilabel) mount(matrix, confusionTable(tags, confusion(state.images, tags.map((t) => t.id), state.threshold)));
    const bad = mistakes(state.images, state.threshold, overlap);
    mount(wrong,
      h("p", { class: "muted", id: "mistake-count" }, `${plural(bad.length, "image")} of ${state.images.length} wrong at this threshold.`),
      h("ul", { class: "mistake-grid" }, bad.slice(0, 60).map(({ image, missed, extra }) => h("li", { class: "mistake" },
        detection
          ? imageWithBoxes(image.imageUri, [
            ...(image.regions || []).map((r) => ({ ...r, kind: "truth", label: r.tagName })),
            ...extra.map((p) => ({ ...p.boundingBox, kind: "wrong", label: `${ctx.tagName(p.tagId)} ${pct(p.probability, 0)}` })),
          ])
          : h("img", { src: image.thumbnailUri, alt: "" }),
        h("p", { class: "small" },
          missed.length ? h("span", { class: "missed" }, `Missed: ${missed.map(ctx.tagName).join(", ")}`) : null,
          extra.length ? h("span", { class: "extra" }, `Wrongly saw: ${extra.map((p) => `${ctx.tagName(p.tagId)} ${pct(p.probability, 0)}`).join(", ")}`) : null)))));
  }

  const onThreshold = (v) => { state.threshold = v; renderAnalyses(); loadFiguresSoon(); };
  const onOverlap = (v) => { state.overlap = v; renderAnalyses(); loadFiguresSoon(); };
  mount(el,
    h("div", { class: "detail-head" },
      h("div", {}, h("h2", {}, it.name), h("p", { class: "muted small" },
        `${it.trainingType === "Advanced" ? `Advanced (${it.reservedBudgetInHours} h budget)` : "Quick"} training · trained ${when(it.trainedAt)}`,
        it.publishName ? ` · published as “${it.publishName}”` : "")),
      h("div", { class: "head-actions" }, publishButton, urlButton, deleteButton)),
    h("div", { class: "sliders" },
      slider("Probability threshold", "threshold", state.threshold, onThreshold),
      detection ? slider("Overlap threshold", "overlap", state.overlap, onOverlap) : null),
    figures, perTag,
    h("h3", {}, "Precision–recall curves"), h("p", { class: "hint" }, "The dot is where the probability threshold puts each tag."), curves,
    !detection && !ctx.multilabel ? [h("h3", {}, "Confusion matrix"), matrix] : null,
    h("h3", {}, "Images the model got wrong"), wrong);
  await loadFigures();
  try {
    state.images = await api.all((page) => api.imagePerformances(pid, it.id, page));
    renderAnalyses();
  } catch (err) {
    mount(curves, errorBox(err));
  }
}

export async function renderPerformance(container, ctx, iterationId) {
  const pid = ctx.project.id;
  let timer = null;
  let disposed = false;
  const list = h("ol", { class: "iteration-list", "aria-label": "Iterations" });
  const detail = h("section", { class: "iteration-detail", "aria-live": "polite" });
  mount(container, h("div", { class: "with-sidebar" }, h("aside", { class: "sidebar" }, h("h2", { class: "sidebar-title" }, "Iterations"), list), h("div", { class: "main-column" }, detail)));

  async function load() {
    clearTimeout(timer);
    const iterations = (await api.iterations(pid)).sort((a, b) => b.created.localeCompare(a.created));
    if (disposed) return;
    const selected = iterations.find((i) => i.id === iterationId) || iterations[0];
    mount(list, iterations.map((it) => iterationItem(ctx, it, selected?.id)));
    if (!selected) {
      mount(detail, h("p", { class: "empty" }, "No iterations yet. Tag some images, then choose ", h("strong", {}, "Train"), "."));
      return;
    }
    if (selected.status === "Completed") await completedDetail(detail, ctx, selected, load);
    else if (selected.status === "Failed") {
      mount(detail, h("h2", {}, selected.name), h("p", { class: "error", role: "alert", id: "training-error" }, "Training failed: ", selected.trainingErrorDetails || "no details were recorded."));
    } else watch(selected);
  }

  function watch(it) {
    const bar = progressBar("Training progress");
    mount(detail, h("h2", {}, it.name), h("p", {}, "Training… you can leave this page; training goes on."), bar, h("p", { class: "muted", id: "training-message" }));
    const update = (current) => {
      bar.set(current.trainingProgress, `${Math.round(current.trainingProgress * 100)}%`);
      detail.querySelector("#training-message").textContent = current.trainingMessage || current.status;
    };
    update(it);
    const poll = async () => {
      if (disposed) return;
      try {
        const current = await api.iteration(pid, it.id);
        if (disposed) return;
        if (current.status !== "Training") { iterationId = it.id; load().catch(showError); return; }
        update(current);
        list.querySelector(`a[href$="${it.id}"] .status`).textContent = `Training ${Math.round(current.trainingProgress * 100)}%`;
      } catch (err) {
        showError(err);
      }
      timer = setTimeout(poll, POLL_MS);
    };
    timer = setTimeout(poll, POLL_MS);
  }

  try {
    await load();
  } catch (err) {
    mount(detail, errorBox(err));
  }
  return () => { disposed = true; clearTimeout(timer); };
}
