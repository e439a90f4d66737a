// Small inline SVG charts and tables: a precision–recall curve, a confusion matrix, image boxes.

import { h, svg } from "./dom.js";
import { pct } from "./format.js";

const W = 240;
const H = 170;
const PAD = { left: 34, right: 16, top: 8, bottom: 28 };
const X = (recall) => PAD.left + recall * (W - PAD.left - PAD.right);
const Y = (precision) => H - PAD.bottom - precision * (H - PAD.top - PAD.bottom);

/** A precision–recall curve (recall on x) with the point the current threshold selects marked. */
export function prChart({ title, points, marker }) {
  const steps = [];
  // Start at recall 0 with the first precision, then step through the points.
  if (points.length) steps.push(`${X(0)},${Y(points[0].precision)}`);
  for (const p of points) steps.push(`${X(p.recall)},${Y(p.precision)}`);
  const ticks = [0, 0.5, 1];
  const label = marker
    ? `${title}: precision ${pct(marker.precision)} at recall ${pct(marker.recall)} for the chosen threshold`
    : `${title}: precision–recall curve`;
  return h("figure", { class: "pr-chart" },
    svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label },
      svg("rect", { x: PAD.left, y: PAD.top, width: W - PAD.left - PAD.right, height: H - PAD.top - PAD.bottom, class: "plot-bg" }),
      ticks.map((t) => [
        svg("line", { x1: X(t), x2: X(t), y1: PAD.top, y2: H - PAD.bottom, class: "grid" }),
        svg("line", { x1: PAD.left, x2: W - PAD.right, y1: Y(t), y2: Y(t), class: "grid" }),
        svg("text", { x: X(t), y: H - PAD.bottom + 12, class: "tick", "text-anchor": "middle" }, `${t * 100}%`),
        svg("text", { x: PAD.left - 4, y: Y(t) + 3, class: "tick", "text-anchor": "end" }, `${t * 100}%`),
      ]),
      svg("text", { x: (W + PAD.left) / 2, y: H - 2, class: "axis", "text-anchor": "middle" }, "Recall"),
      steps.length ? svg("polyline", { points: steps.join(" "), class: "curve" }) : null,
      marker ? svg("circle", { cx: X(marker.recall), cy: Y(marker.precision), r: 4, class: "marker" }) : null),
    h("figcaption", {}, h("strong", {}, title), points.length ? null : " (no predictions)"));
}

/** A confusion matrix table: rows are true tags, columns predicted tags (plus "none"). */
export function confusionTable(tags, counts) {
  const columns = [...tags.map((t) => [t.id, t.name]), ["", "(none)"]];
  const max = Math.max(1, ...tags.flatMap((t) => columns.map(([c]) => counts[t.id][c])));
  return h("table", { class: "confusion" },
    h("caption", {}, "Rows: true tag · columns: predicted tag"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "True \\ predicted"), columns.map(([, name]) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, tags.map((t) => h("tr", {}, h("th", { scope: "row" }, t.name), columns.map(([c]) => {
      const n = counts[t.id][c];
      const shade = n ? 0.12 + 0.6 * (n / max) : 0;
      return h("td", { class: c === t.id ? "diagonal" : n ? "off" : "", style: { "--shade": shade } }, n);
    })))));
}

/** An image with prediction boxes drawn over it (percent positions, so it scales). */
export function imageWithBoxes(src, boxes, { alt = "" } = {}) {
  return h("div", { class: "boxed-image" },
    h("img", { src, alt }),
    boxes.map((b) => {
      const box = h("div", { class: ["pbox", b.kind], title: b.label },
        h("span", { class: "box-label" }, b.label));
      Object.assign(box.style, {
        left: `${b.left * 100}%`, top: `${b.top * 100}%`, width: `${b.width * 100}%`, height: `${b.height * 100}%`,
      });
      return box;
    }));
}
