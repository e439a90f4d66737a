// One prediction's result: the image (with boxes for detection) and the tags with probabilities,
// filtered by a probability threshold slider. Used by Quick test and Predictions.

import { imageWithBoxes } from "../charts.js";
import { h, mount } from "../dom.js";
import { pct } from "../format.js";

export const MAX_SHOWN = 50;

/** Returns {el, threshold()}; `onThreshold` is told when the slider moves. */
export function predictionResult({ src, predictions, detection, threshold = detection ? 0.3 : 0, onThreshold }) {
  let current = threshold;
  const imageSlot = h("div", { class: "result-image" });
  const table = h("div", { class: "table-wrap" });
  const id = `threshold-${Math.random().toString(36).slice(2)}`;
  const input = h("input", { type: "range", id, min: 0, max: 100, step: 1, value: Math.round(current * 100) });
  const output = h("output", { for: id }, pct(current, 0));
  const sorted = [...predictions].sort((a, b) => b.probability - a.probability);

  function render() {
    const passing = sorted.filter((p) => p.probability >= current);
    // A detector scores hundreds of candidate boxes: show the most likely ones only.
    const shown = passing.slice(0, MAX_SHOWN);
    mount(imageSlot, detection
      ? imageWithBoxes(src, shown.map((p) => ({ ...p.boundingBox, kind: "predicted", label: `${p.tagName} ${pct(p.probability, 0)}` })), { alt: "Tested image" })
      : h("img", { src, alt: "Tested image" }));
    mount(table, shown.length
      ? h("table", { class: "predictions-table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Tag"), h("th", { scope: "col" }, "Probability"))),
        h("tbody", {}, shown.map((p) => h("tr", {},
          h("th", { scope: "row" }, p.tagName),
          h("td", {}, h("span", { class: "bar", style: { "--value": p.probability } }), h("span", { class: "bar-value" }, pct(p.probability)))))))
      : h("p", { class: "muted" }, "Nothing at or above this threshold."),
    passing.length > shown.length ? h("p", { class: "hint" }, `Showing the ${shown.length} most likely of ${passing.length}; raise the threshold to narrow them down.`) : null);
  }
  input.addEventListener("input", () => {
    current = Number(input.value) / 100;
    output.textContent = pct(current, 0);
    render();
    onThreshold?.(current);
  });
  render();
  const el = h("div", { class: "prediction-result" }, imageSlot,
    h("div", { class: "stack" },
      h("div", { class: "slider" }, h("label", { for: id }, detection ? "Show boxes from" : "Show tags from"), input, output),
      table));
  return { el, threshold: () => current };
}
