// One training image, large: edit its tags (classification) or its boxes (object detection),
// with region proposals as suggestions. PageUp/PageDown go to the previous/next image.

import * as api from "../api.js";
import { h, mount } from "../dom.js";
import { icon } from "../icons.js";
import { clampBox, regionEditor } from "../region-editor.js";
import { confirmDialog, errorBox, errorText, openDialog, promptDialog, showError } from "../ui.js";

const iou = (a, b) => {
  const x = Math.max(0, Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left));
  const y = Math.max(0, Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top));
  const inter = x * y;
  return inter / (a.width * a.height + b.width * b.height - inter || 1);
};

function tagSelect(ctx, selectedId, props = {}) {
  return h("select", props, ctx.tags.filter((t) => t.type !== "Negative" || !ctx.detection)
    .map((t) => h("option", { value: t.id, selected: t.id === selectedId }, t.name)));
}

/** Classification: the image's tags as removable chips, plus a picker to add one. */
function tagEditor(ctx, image, { save }) {
  const have = new Set((image.tags || []).map((t) => t.tagId));
  const missing = ctx.tags.filter((t) => !have.has(t.id));
  const picker = h("select", { "aria-label": "Tag to add", id: "add-tag-select" },
    missing.map((t) => h("option", { value: t.id }, t.name)));
  const add = h("button", { type: "button", disabled: !missing.length }, "Add tag");
  add.addEventListener("click", () => save(() => api.tagImages(ctx.project.id, [{ imageId: image.id, tagId: picker.value }])));
  return h("section", { class: "stack" },
    h("h3", {}, "Tags"),
    image.tags?.length
      ? h("ul", { class: "chips", "aria-label": "Tags on this image" }, image.tags.map((t) => h("li", { class: "chip" }, t.tagName,
        h("button", {
          type: "button", class: "icon", "aria-label": `Remove tag ${t.tagName}`,
          onClick: () => save(() => api.untagImages(ctx.project.id, [image.id], [t.tagId])),
        }, "×"))))
      : h("p", { class: "muted" }, "Untagged."),
    ctx.tags.length ? h("div", { class: "inline-form" }, picker, add) : h("p", { class: "hint" }, "Add tags in the sidebar first."),
    !ctx.multilabel && (image.tags?.length || 0) > 1 ? h("p", { class: "warn small" }, "Multiclass projects expect one tag per image.") : null);
}

export function openImageDetail(ctx, images, startIndex, onChanged) {
  let index = startIndex;
  let image = images[index];
  let changed = false;
  let editor = null;
  let queue = Promise.resolve();
  let suggestionNote = "Looking for suggested boxes…";
  const stageSlot = h("div", { class: "detail-stage" });
  const side = h("div", { class: "detail-side" });
  const status = h("div", { "aria-live": "polite", class: "detail-status" });
  const prev = h("button", { type: "button", "aria-keyshortcuts": "PageUp" }, "‹ Previous");
  const next = h("button", { type: "button", "aria-keyshortcuts": "PageDown" }, "Next ›");
  const remove = h("button", { type: "button", class: "danger-text" }, "Delete image");
  const { dialog, close } = openDialog({
    title: "Image",
    wide: true,
    className: "detail-dialog",
    body: h("div", { class: "detail" }, stageSlot, h("div", {}, status, side)),
    actions: [remove, h("span", { class: "spacer" }), prev, next],
    onClose: () => {
      document.removeEventListener("keydown", onKey);
      editor?.flush();
      if (changed) onChanged();
    },
  });

  /** Run one change at a time, then reload the image from the server. */
  function save(work, afterSelect) {
    queue = queue.then(async () => {
      mount(status);
      try {
        const result = await work();
        changed = true;
        [image] = await api.imagesByIds(ctx.project.id, [image.id]);
        images[index] = image;
        refresh(typeof afterSelect === "function" ? afterSelect(result) : undefined);
      } catch (err) {
        mount(status, errorBox(err));
        editor?.discardEdits();
        refresh();
      }
    });
    return queue;
  }

  async function tagForNewBox() {
    const chosen = side.querySelector("#new-box-tag")?.value;
    if (chosen) return chosen;
    const name = await promptDialog({ title: "Name the object", label: "Tag for this box", confirmLabel: "Add tag" });
    if (!name) return null;
    const tag = await api.createTag(ctx.project.id, name);
    await ctx.refreshTags();
    return tag.id;
  }

  const createdId = (summary) => summary?.created?.[0]?.regionId;
  const addRegion = (tagId, box) => api.addRegions(ctx.project.id, [{ imageId: image.id, tagId, ...clampBox(box) }]);
  // Azure has no "update region": a moved or retagged box is added anew, then the old one deleted.
  // Edits queue up while earlier ones save, so an edit may name a box that an earlier edit
  // already replaced: follow the chain to the box the server holds now.
  const successors = new Map();
  const currentId = (id) => (successors.has(id) ? currentId(successors.get(id)) : id);
  const replaceRegion = async (region, tagId, box) => {
    const oldId = currentId(region.regionId);
    const summary = await addRegion(tagId, box);
    await api.deleteRegions(ctx.project.id, [oldId]);
    const newId = createdId(summary);
    if (newId) successors.set(oldId, newId);
    return summary;
  };

  function regionList(selected) {
    const regions = image.regions || [];
    return h("section", { class: "stack" },
      h("h3", {}, "Boxes"),
      ctx.tags.length
        ? h("label", { class: "field" }, h("span", { class: "field-label" }, "Tag for new boxes"), tagSelect(ctx, side.querySelector("#new-box-tag")?.value, { id: "new-box-tag" }))
        : h("p", { class: "hint" }, "Draw a box and name the object; the tag is created for you."),
      regions.length
        ? h("ol", { class: "region-list" }, regions.map((r) => h("li", { class: ["region-row", r.regionId === selected?.regionId && "selected"] },
          h("button", { type: "button", class: "link", onClick: () => { editor.select(r.regionId); editor.overlay.focus(); } }, r.tagName),
          tagSelect(ctx, r.tagId, {
            "aria-label": `Tag of box ${r.tagName}`,
            onChange: (e) => save(() => replaceRegion(r, e.target.value, r), createdId),
          }),
          h("button", { type: "button", class: "icon", "aria-label": `Delete box ${r.tagName}`, onClick: () => save(() => api.deleteRegions(ctx.project.id, [r.regionId])) }, icon("trash")))))
        : h("p", { class: "muted" }, "No boxes yet: drag on the image to draw one."),
      h("p", { class: "hint" }, "Keys on the image: N new box · Tab next box · arrows move · Shift+arrows resize · 1–9 set tag · Delete remove · Escape deselect."),
      h("div", { class: "suggestions", id: "suggestions" }, h("p", { class: "hint" }, suggestionNote)));
  }

  async function loadProposals() {
    const slot = () => side.querySelector("#suggestions");
    try {
      const answer = await api.regionProposals(ctx.project.id, image.id);
      const fresh = (answer.proposals || [])
        .filter((p) => !(image.regions || []).some((r) => iou(r, p.boundingBox) > 0.5))
        .sort((a, b) => b.confidence - a.confidence).slice(0, 8);
      editor?.setProposals(fresh);
      suggestionNote = fresh.length ? `${fresh.length} suggested boxes (dashed): click one to add it.` : "No suggested boxes.";
    } catch (err) {
      suggestionNote = `Suggested boxes unavailable: ${errorText(err)}`;
    }
    if (slot()) mount(slot(), h("p", { class: "hint" }, suggestionNote));
  }

  function refresh(selectId) {
    const hadFocus = dialog.contains(document.activeElement);
    refreshContent(selectId);
    if (hadFocus && !dialog.contains(document.activeElement)) (editor?.overlay || dialog.querySelector(".detail-side select, .detail-side button") || dialog).focus();
  }

  function refreshContent(selectId) {
    dialog.querySelector(".dialog-head h2").textContent = `Image ${index + 1} of ${images.length}`;
    prev.disabled = index === 0;
    next.disabled = index === images.length - 1;
    if (!ctx.detection) {
      mount(stageSlot, h("img", { class: "detail-image", src: image.originalImageUri, alt: "Training image" }));
      mount(side, tagEditor(ctx, image, { save }));
      return;
    }
    if (!editor || editor.imageId !== image.id) {
      suggestionNote = "Looking for suggested boxes…";
      editor = regionEditor({
        imageUrl: image.originalImageUri, width: image.width, height: image.height,
        tags: () => ctx.tags.filter((t) => t.type !== "Negative"),
        onCreate: async (box) => {
          const tagId = await tagForNewBox().catch((err) => { showError(err); return null; });
          if (tagId) save(() => addRegion(tagId, box), createdId);
        },
        onUpdate: (region, box) => save(() => replaceRegion(region, region.tagId, box), createdId),
        onRetag: (region, tagId, box) => save(() => replaceRegion(region, tagId, box), createdId),
        onDelete: (region) => save(() => api.deleteRegions(ctx.project.id, [region.regionId])),
        onSelect: (region) => mount(side, regionList(region)),
      });
      editor.imageId = image.id;
      mount(stageSlot, editor.el);
      editor.setRegions(image.regions || [], selectId);
      loadProposals();
      editor.overlay.focus();
    } else {
      editor.setRegions(image.regions || [], selectId);
    }
  }

  function go(step) {
    const target = index + step;
    if (target < 0 || target >= images.length) return;
    editor?.flush();
    queue.then(() => {
      index = target;
      image = images[index];
      mount(status);
      refresh();
    });
  }
  prev.addEventListener("click", () => go(-1));
  next.addEventListener("click", () => go(1));
  // On the document, not the dialog: after a re-render the focused control may be gone.
  const onKey = (event) => {
    if (event.key === "PageUp") { event.preventDefault(); go(-1); }
    if (event.key === "PageDown") { event.preventDefault(); go(1); }
  };
  document.addEventListener("keydown", onKey);
  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({ title: "Delete image?", message: "Delete this image and its tags? This cannot be undone.", confirmLabel: "Delete", danger: true });
    if (!ok) return;
    try {
      await api.deleteImages(ctx.project.id, [image.id]);
      changed = true;
      close();
    } catch (err) {
      showError(err);
    }
  });
  refresh();
}
