// The training images tab: tag sidebar, image grid with paging, multi-select bulk actions.

import * as api from "../api.js";
import { h, mount } from "../dom.js";
import { plural } from "../format.js";
import { confirmDialog, errorBox, openDialog, showError, toast } from "../ui.js";
import { openImageDetail } from "./image-detail.js";
import { tagSidebar } from "./tag-sidebar.js";
import { openUpload } from "./upload.js";

const PAGE_SIZE = 48;

/** Pick tags from a checkbox list; resolves to the chosen tag ids (empty when cancelled). */
function chooseTags(ctx, { title, confirmLabel }) {
  return new Promise((resolve) => {
    let chosen = [];
    const boxes = ctx.tags.map((t) => h("label", { class: "check" }, h("input", { type: "checkbox", value: t.id }), t.name));
    const ok = h("button", { type: "button", class: "primary" }, confirmLabel);
    const cancel = h("button", { type: "button" }, "Cancel");
    const body = ctx.tags.length ? h("div", { class: "check-list" }, boxes) : h("p", {}, "Add a tag in the sidebar first.");
    const { close } = openDialog({ title, body, actions: [cancel, ok], onClose: () => resolve(chosen) });
    ok.addEventListener("click", () => {
      chosen = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
      close();
    });
    cancel.addEventListener("click", close);
  });
}

function imageCard(image, index, { selected, detection, onToggle, onOpen }) {
  const labels = detection
    ? (image.regions?.length ? plural(image.regions.length, "region") : "No regions")
    : (image.tags?.map((t) => t.tagName).join(", ") || "Untagged");
  const box = h("input", { type: "checkbox", checked: selected, "aria-label": `Select image ${index + 1}`, onChange: (e) => onToggle(e.target.checked) });
  return h("li", { class: ["image-card", selected && "selected"], dataset: { imageId: image.id } },
    h("button", { type: "button", class: "thumb-button", onClick: onOpen, "aria-label": `Open image ${index + 1}: ${labels}` },
      h("img", { src: image.thumbnailUri, alt: "", loading: "lazy" })),
    h("label", { class: "select-box" }, box),
    h("span", { class: ["image-labels", labels === "Untagged" && "muted"] }, labels));
}

export async function renderImages(container, ctx) {
  const state = { mode: "All", tagIds: new Set(), skip: 0, total: 0, images: [], selected: new Set() };
  const grid = h("ul", { class: "image-grid", "aria-label": "Training images" });
  const pager = h("div", { class: "pager" });
  const toolbar = h("div", { class: "toolbar", role: "toolbar", "aria-label": "Image actions" });
  const status = h("div", { "aria-live": "polite" });
  const sidebar = tagSidebar(ctx, state, {
    onFilter: () => { state.skip = 0; state.selected.clear(); reload(); },
    onTagsChanged: async () => { await ctx.refreshTags(); await reload(); },
  });
  mount(container, h("div", { class: "with-sidebar" }, sidebar.el,
    h("div", { class: "main-column" }, toolbar, status, grid, pager)));

  const filter = () => ({
    taggingStatus: state.mode,
    tagIds: state.mode === "Untagged" ? [] : [...state.tagIds],
  });

  let loads = 0;
  async function reload() {
    const seq = ++loads; // a slower, older answer must not overwrite a newer one
    grid.setAttribute("aria-busy", "true");
    try {
      const [images, total, all, tagged, untagged] = await Promise.all([
        api.images(ctx.project.id, { ...filter(), take: PAGE_SIZE, skip: state.skip }),
        api.imageCount(ctx.project.id, filter()),
        api.imageCount(ctx.project.id),
        api.imageCount(ctx.project.id, { taggingStatus: "Tagged" }),
        api.imageCount(ctx.project.id, { taggingStatus: "Untagged" }),
        ctx.refreshTags(),
      ]);
      if (seq !== loads) return;
      Object.assign(state, { images, total });
      sidebar.setCounts({ All: all, Tagged: tagged, Untagged: untagged });
      mount(status);
      render();
    } catch (err) {
      mount(status, errorBox(err));
    } finally {
      if (seq === loads) grid.removeAttribute("aria-busy");
    }
  }

  async function bulk(work, done) {
    const ids = [...state.selected];
    try {
      await work(ids);
      toast(done(ids.length));
      state.selected.clear();
    } catch (err) {
      showError(err);
    }
    await reload();
  }

  const actions = {
    async tag() {
      const tagIds = await chooseTags(ctx, { title: "Tag selected images", confirmLabel: "Add tags" });
      if (!tagIds.length) return;
      await bulk((ids) => api.inChunks(ids.flatMap((imageId) => tagIds.map((tagId) => ({ imageId, tagId }))), 128,
        (pairs) => api.tagImages(ctx.project.id, pairs)), (n) => `Tagged ${plural(n, "image")}.`);
    },
    async untag() {
      const tagIds = await chooseTags(ctx, { title: "Remove tags from selected images", confirmLabel: "Remove tags" });
      if (!tagIds.length) return;
      await bulk((ids) => api.inChunks(ids, 64, (chunk) => api.untagImages(ctx.project.id, chunk, tagIds)),
        (n) => `Removed tags from ${plural(n, "image")}.`);
    },
    async remove() {
      const n = state.selected.size;
      const ok = await confirmDialog({ title: "Delete images?", message: `Delete ${plural(n, "selected image")}? This cannot be undone.`, confirmLabel: "Delete", danger: true });
      if (!ok) return;
      await bulk((ids) => api.inChunks(ids, 256, (chunk) => api.deleteImages(ctx.project.id, chunk)), (k) => `Deleted ${plural(k, "image")}.`);
    },
  };

  function renderToolbar() {
    const n = state.selected.size;
    const pageIds = state.images.map((i) => i.id);
    const allSelected = pageIds.length > 0 && pageIds.every((id) => state.selected.has(id));
    const selectAll = h("input", {
      type: "checkbox", checked: allSelected, indeterminate: n > 0 && !allSelected, disabled: !pageIds.length,
      onChange: (e) => { pageIds.forEach((id) => (e.target.checked ? state.selected.add(id) : state.selected.delete(id))); syncSelection(); },
    });
    mount(toolbar,
      h("button", { type: "button", class: "primary", id: "add-images", onClick: () => openUpload(ctx, reload) }, "Add images"),
      h("label", { class: "check" }, selectAll, "Select page"),
      n ? h("span", { class: "selection-count" }, `${n} selected`) : null,
      n && !ctx.detection ? h("button", { type: "button", onClick: actions.tag }, "Tag…") : null,
      n && !ctx.detection ? h("button", { type: "button", onClick: actions.untag }, "Untag…") : null,
      n ? h("button", { type: "button", class: "danger-text", onClick: actions.remove }, "Delete") : null,
      n ? h("button", { type: "button", class: "ghost", onClick: () => { state.selected.clear(); syncSelection(); } }, "Clear selection") : null);
  }

  // Selection changes update the cards in place, so keyboard focus stays where it was.
  function syncSelection() {
    for (const card of grid.querySelectorAll(".image-card")) {
      const on = state.selected.has(card.dataset.imageId);
      card.classList.toggle("selected", on);
      card.querySelector(".select-box input").checked = on;
    }
    const focused = toolbar.contains(document.activeElement) ? document.activeElement.closest("label")?.textContent : null;
    renderToolbar();
    if (focused) [...toolbar.querySelectorAll("label")].find((l) => l.textContent === focused)?.querySelector("input")?.focus();
  }

  function renderPager() {
    const from = state.total ? state.skip + 1 : 0;
    const to = Math.min(state.skip + PAGE_SIZE, state.total);
    const go = (skip) => { state.skip = skip; reload(); };
    mount(pager,
      h("button", { type: "button", disabled: state.skip === 0, onClick: () => go(Math.max(0, state.skip - PAGE_SIZE)) }, "‹ Previous"),
      h("span", { class: "page-range" }, `${from}–${to} of ${state.total}`),
      h("button", { type: "button", disabled: to >= state.total, onClick: () => go(state.skip + PAGE_SIZE) }, "Next ›"));
    pager.hidden = state.total <= PAGE_SIZE;
  }

  function render() {
    renderToolbar();
    renderPager();
    if (!state.images.length) {
      const empty = state.mode === "All" && !state.tagIds.size
        ? ["No images yet. Choose ", h("strong", {}, "Add images"), " to upload some."]
        : ["No images match this filter."];
      mount(grid, h("li", { class: "empty" }, empty));
      return;
    }
    mount(grid, state.images.map((image, index) => imageCard(image, index, {
      selected: state.selected.has(image.id),
      detection: ctx.detection,
      onToggle: (on) => { if (on) state.selected.add(image.id); else state.selected.delete(image.id); syncSelection(); },
      onOpen: () => openImageDetail(ctx, state.images, index, reload),
    })));
  }

  await reload();
  return null;
}
