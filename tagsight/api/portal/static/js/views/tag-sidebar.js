// The tag sidebar of the training images tab: filters with counts; add, rename and delete tags.

import * as api from "../api.js";
import { h, mount } from "../dom.js";
import { icon } from "../icons.js";
import { confirmDialog, promptDialog, showError, toast } from "../ui.js";

/**
 * `state` is {mode: "All"|"Tagged"|"Untagged", tagIds: Set}; `onFilter()` re-lists images,
 * `onTagsChanged()` re-lists images and counts after a tag was renamed or deleted.
 */
export function tagSidebar(ctx, state, { onFilter, onTagsChanged }) {
  const el = h("aside", { class: "sidebar", "aria-label": "Tags" });
  let counts = { All: 0, Untagged: 0, Tagged: 0 };

  async function addTag(name, type) {
    try {
      const tag = await api.createTag(ctx.project.id, name, type);
      toast(`Added tag “${tag.name}”.`);
      await ctx.refreshTags();
      render();
      return true;
    } catch (err) {
      showError(err);
      return false;
    }
  }

  async function rename(tag) {
    const name = await promptDialog({ title: "Rename tag", label: "Tag name", value: tag.name });
    if (!name || name === tag.name) return;
    try {
      await api.updateTag(ctx.project.id, tag.id, { name });
      await onTagsChanged();
    } catch (err) {
      showError(err);
    }
  }

  async function remove(tag) {
    const ok = await confirmDialog({
      title: "Delete tag?",
      message: `Delete “${tag.name}”? It is removed from its ${tag.imageCount} image(s); the images stay.`,
      confirmLabel: "Delete tag",
      danger: true,
    });
    if (!ok) return;
    try {
      await api.deleteTag(ctx.project.id, tag.id);
      state.tagIds.delete(tag.id);
      await onTagsChanged();
    } catch (err) {
      showError(err);
    }
  }

  function statusFilter(mode, label) {
    return h("button", {
      type: "button",
      class: ["filter", state.mode === mode && "active"],
      "aria-pressed": String(state.mode === mode),
      onClick: () => { state.mode = mode; if (mode === "Untagged") state.tagIds.clear(); onFilter(); },
    }, h("span", {}, label), h("span", { class: "count" }, counts[mode]));
  }

  function tagRow(tag) {
    const box = h("input", {
      type: "checkbox", checked: state.tagIds.has(tag.id), disabled: state.mode === "Untagged",
      onChange: (e) => {
        if (e.target.checked) state.tagIds.add(tag.id); else state.tagIds.delete(tag.id);
        onFilter();
      },
    });
    return h("li", { class: "tag-row", dataset: { tagId: tag.id } },
      h("label", { class: "tag-filter" }, box,
        h("span", { class: "tag-name" }, tag.name),
        tag.type === "Negative" ? h("span", { class: "badge" }, "Negative") : null,
        h("span", { class: "count" }, tag.imageCount)),
      h("button", { type: "button", class: "icon", "aria-label": `Rename tag ${tag.name}`, title: "Rename", onClick: () => rename(tag) }, icon("edit")),
      h("button", { type: "button", class: "icon", "aria-label": `Delete tag ${tag.name}`, title: "Delete", onClick: () => remove(tag) }, icon("trash")));
  }

  function addForm() {
    const input = h("input", { type: "text", name: "tag-name", placeholder: "New tag name", "aria-label": "New tag name", required: true, maxlength: 256 });
    const form = h("form", { class: "add-tag" }, input, h("button", { type: "submit" }, "Add tag"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (await addTag(input.value.trim())) input.value = "";
      form.querySelector("input")?.focus();
    });
    return form;
  }

  function render() {
    const hasNegative = ctx.tags.some((t) => t.type === "Negative");
    const sorted = [...ctx.tags].sort((a, b) => a.name.localeCompare(b.name));
    mount(el,
      h("h2", { class: "sidebar-title" }, "Show"),
      h("div", { class: "filters" }, statusFilter("All", "All images"), statusFilter("Tagged", "Tagged"), statusFilter("Untagged", "Untagged")),
      h("h2", { class: "sidebar-title" }, "Tags"),
      sorted.length ? h("ul", { class: "tag-list" }, sorted.map(tagRow)) : h("p", { class: "muted small" }, "No tags yet."),
      addForm(),
      !ctx.detection && !hasNegative
        ? h("button", { type: "button", class: "link small", onClick: () => addTag("Negative", "Negative") }, "+ Add a Negative tag")
        : null,
      ctx.detection ? null : h("p", { class: "hint" }, "A Negative tag marks images that show none of your tags."));
  }

  return {
    el,
    setCounts(next) { counts = next; render(); },
    render,
  };
}
