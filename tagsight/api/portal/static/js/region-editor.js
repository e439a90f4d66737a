// The box editor for object detection: an image with boxes you can draw, select, move, resize,
// retag and delete, by pointer or keyboard. Boxes are normalised (0..1) like Azure's regions.
// The editor only reports intent (onCreate/onUpdate/onDelete/onRetag); the caller saves and then
// calls setRegions() with what the server holds.
//
// Keys (overlay focused): N new box · Tab/Shift+Tab next/previous box · arrows move (Shift: resize)
// · 1–9 give the selected box that tag · Delete/Backspace delete · Escape deselect.

import { h, mount } from "./dom.js";

const MIN_SIZE = 0.01;
const STEP = 0.01;
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/** Keep a box inside the image and at least MIN_SIZE wide and high. */
export function clampBox({ left, top, width, height }) {
  width = clamp(width, MIN_SIZE, 1);
  height = clamp(height, MIN_SIZE, 1);
  return { left: clamp(left, 0, 1 - width), top: clamp(top, 0, 1 - height), width, height };
}

const sameBox = (a, b) => ["left", "top", "width", "height"].every((k) => Math.abs(a[k] - b[k]) < 1e-4);
const pct = (v) => `${(v * 100).toFixed(3)}%`;
const place = (el, b) => Object.assign(el.style, { left: pct(b.left), top: pct(b.top), width: pct(b.width), height: pct(b.height) });

/** `tags()` gives the project's current tags (keys 1–9 pick one). */
export function regionEditor({ imageUrl, width, height, tags, onCreate, onUpdate, onDelete, onRetag, onSelect }) {
  let regions = [];
  let proposals = [];
  let selectedId = null;
  let drag = null; // {mode: "draw"|"move"|"resize", start, box, region, corner, el}
  let pending = null; // keyboard edits, committed after a pause
  let committed = null; // the last committed box, until the server's regions come back

  const overlay = h("div", {
    class: "overlay", tabindex: "0", role: "application",
    "aria-label": "Image with boxes. Drag to draw a box. Keys: N new box, Tab next box, arrows move, Shift+arrows resize, 1 to 9 set tag, Delete remove, Escape deselect.",
  });
  const stage = h("div", { class: "stage", style: { aspectRatio: `${width} / ${height}`, maxWidth: `calc(66vh * ${width / height})` } },
    h("img", { src: imageUrl, alt: "", draggable: "false" }), overlay);

  const selected = () => regions.find((r) => r.regionId === selectedId) || null;
  const boxOf = (r) => ({ left: r.left, top: r.top, width: r.width, height: r.height });

  function select(id) {
    selectedId = id;
    render();
    onSelect?.(selected());
  }

  function point(event) {
    const rect = overlay.getBoundingClientRect();
    return { x: clamp((event.clientX - rect.left) / rect.width, 0, 1), y: clamp((event.clientY - rect.top) / rect.height, 0, 1) };
  }

  function regionEl(region) {
    const isSelected = region.regionId === selectedId;
    const el = h("div", { class: ["box", isSelected && "selected"], dataset: { regionId: region.regionId }, title: region.tagName },
      h("span", { class: "box-label" }, region.tagName),
      isSelected ? ["nw", "ne", "sw", "se"].map((c) => h("span", { class: `handle ${c}`, dataset: { corner: c } })) : null);
    place(el, latestBox(region));
    return el;
  }

  // A suggestion is an outline that lets drags through; only its small "+" chip is clickable,
  // so a large suggestion never blocks drawing and one under a box can still be taken.
  function proposalEl(proposal, i) {
    const confidence = Math.round(proposal.confidence * 100);
    const el = h("div", { class: "box proposal" },
      h("button", {
        type: "button", class: "proposal-add", title: `Suggested object (${confidence}%): add it as a box`,
        "aria-label": `Add suggested box ${i + 1}`,
        onClick: (e) => { e.stopPropagation(); onCreate(clampBox(proposal.boundingBox)); },
      }, `+ ${confidence}%`));
    place(el, proposal.boundingBox);
    return el;
  }

  function render() {
    mount(overlay, proposals.map(proposalEl), regions.map(regionEl), drag?.el || null);
  }

  overlay.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || event.target.closest(".proposal-add")) return;
    const p = point(event);
    const boxEl = event.target.closest(".box:not(.proposal)");
    overlay.setPointerCapture(event.pointerId);
    overlay.focus({ preventScroll: true });
    event.preventDefault();
    if (boxEl) {
      const region = regions.find((r) => r.regionId === boxEl.dataset.regionId);
      const corner = event.target.dataset.corner;
      if (region.regionId !== selectedId) select(region.regionId);
      commitPending();
      drag = { mode: corner ? "resize" : "move", corner, start: p, region, origin: latestBox(region), box: latestBox(region), moved: false };
    } else {
      select(null);
      drag = { mode: "draw", start: p, box: { left: p.x, top: p.y, width: 0, height: 0 }, el: h("div", { class: "box drawing" }) };
      place(drag.el, drag.box);
      overlay.append(drag.el);
    }
  });

  overlay.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const p = point(event);
    const dx = p.x - drag.start.x;
    const dy = p.y - drag.start.y;
    drag.moved = drag.moved || Math.abs(dx) + Math.abs(dy) > 0.003;
    if (drag.mode === "draw") {
      drag.box = { left: Math.min(p.x, drag.start.x), top: Math.min(p.y, drag.start.y), width: Math.abs(dx), height: Math.abs(dy) };
      place(drag.el, drag.box);
      return;
    }
    const b = drag.origin;
    let next;
    if (drag.mode === "move") {
      next = clampBox({ ...b, left: b.left + dx, top: b.top + dy });
    } else {
      let [x0, y0, x1, y1] = [b.left, b.top, b.left + b.width, b.top + b.height];
      if (drag.corner.includes("w")) x0 = clamp(x0 + dx, 0, x1 - MIN_SIZE); else x1 = clamp(x1 + dx, x0 + MIN_SIZE, 1);
      if (drag.corner.includes("n")) y0 = clamp(y0 + dy, 0, y1 - MIN_SIZE); else y1 = clamp(y1 + dy, y0 + MIN_SIZE, 1);
      next = { left: x0, top: y0, width: x1 - x0, height: y1 - y0 };
    }
    drag.box = next;
    place(overlay.querySelector(`.box[data-region-id="${drag.region.regionId}"]`), next);
  });

  function endDrag() {
    if (!drag) return;
    const d = drag;
    drag = null;
    if (d.mode === "draw") {
      d.el.remove();
      if (d.box.width >= MIN_SIZE && d.box.height >= MIN_SIZE) onCreate(clampBox(d.box));
    } else if (d.moved) {
      const box = clampBox(d.box);
      committed = { regionId: d.region.regionId, box }; // keys pressed while it saves build on it
      onUpdate(d.region, box);
    }
  }
  overlay.addEventListener("pointerup", endDrag);
  overlay.addEventListener("pointercancel", () => { drag?.el?.remove(); drag = null; render(); });

  // A key pressed while the last edit is still saving builds on that edit, not on the old box.
  const latestBox = (region) => (pending?.region === region ? pending.box
    : committed?.regionId === region.regionId ? committed.box : boxOf(region));

  function nudge(region, dx, dy, resize) {
    const b = latestBox(region);
    const next = clampBox(resize ? { ...b, width: b.width + dx, height: b.height + dy } : { ...b, left: b.left + dx, top: b.top + dy });
    place(overlay.querySelector(`.box[data-region-id="${region.regionId}"]`), next);
    clearTimeout(pending?.timer);
    pending = { region, box: next, timer: setTimeout(commitPending, 700) };
  }

  function commitPending() {
    if (!pending) return;
    const { region, box } = pending;
    clearTimeout(pending.timer);
    pending = null;
    committed = { regionId: region.regionId, box };
    onUpdate(region, box);
  }

  overlay.addEventListener("keydown", (event) => {
    if (event.target !== overlay) return; // keys on a suggestion's button are that button's
    const region = selected();
    const arrows = { ArrowLeft: [-STEP, 0], ArrowRight: [STEP, 0], ArrowUp: [0, -STEP], ArrowDown: [0, STEP] };
    if (event.key === "Tab" && regions.length) {
      const i = regions.findIndex((r) => r.regionId === selectedId);
      const next = i + (event.shiftKey ? -1 : 1);
      if (next < 0 || next >= regions.length) { select(null); return; } // let focus leave the image
      event.preventDefault();
      commitPending();
      select(regions[next].regionId);
    } else if (event.key === "n" || event.key === "N") {
      event.preventDefault();
      onCreate({ left: 0.3, top: 0.3, width: 0.4, height: 0.4 });
    } else if (!region) {
      return;
    } else if (arrows[event.key]) {
      event.preventDefault();
      event.stopPropagation();
      const [dx, dy] = arrows[event.key];
      nudge(region, dx, dy, event.shiftKey);
    } else if (event.key === "Delete" || event.key === "Backspace") {
      event.preventDefault();
      onDelete(region);
    } else if (/^[1-9]$/.test(event.key) && tags()[Number(event.key) - 1]) {
      event.preventDefault();
      commitPending();
      onRetag(region, tags()[Number(event.key) - 1].id, latestBox(region));
    } else if (event.key === "Escape") {
      event.preventDefault(); // keep the dialog open: Escape first deselects
      commitPending();
      select(null);
    }
  });

  return {
    el: stage,
    overlay,
    /** Show the server's regions; `keepSelected` is the id to select afterwards. */
    setRegions(next, keepSelected = selectedId) {
      const before = selectedId;
      regions = next;
      selectedId = regions.some((r) => r.regionId === keepSelected) ? keepSelected : null;
      // Edits made while a box was being replaced belong to its replacement.
      const heir = (id) => regions.find((r) => r.regionId === id) || (id === before ? selected() : null);
      if (pending) {
        const region = heir(pending.region.regionId);
        if (region) pending.region = region;
        else { clearTimeout(pending.timer); pending = null; }
      }
      if (committed) {
        const region = heir(committed.regionId);
        // Saved once the server holds it; until then later keys build on it.
        committed = region && !sameBox(region, committed.box) ? { regionId: region.regionId, box: committed.box } : null;
      }
      render();
      onSelect?.(selected());
    },
    setProposals(next) { proposals = next; render(); },
    /** Forget edits not yet on the server (their save failed). */
    discardEdits() { clearTimeout(pending?.timer); pending = null; committed = null; },
    select,
    flush: commitPending,
  };
}
