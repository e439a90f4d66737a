// The projects page: cards with a thumbnail and counts; create, edit, delete, import and export datasets.

import * as api from "../api.js";
import { h, mount } from "../dom.js";
import { plural, when } from "../format.js";
import { confirmDialog, errorBox, setCrumbs, showError, toast } from "../ui.js";
import { openExportDialog, openImportDialog } from "./datasets.js";
import { openProjectForm } from "./project-form.js";

function typeLabel(project, domain) {
  if (!domain) return "Unknown domain";
  if (domain.type === "ObjectDetection") return `Object detection · ${domain.name}`;
  return `${project.settings.classificationType || "Multiclass"} classification · ${domain.name}`;
}

function card(project, summary, domain, actions) {
  const thumb = summary?.thumbnailUri
    ? h("img", { src: summary.thumbnailUri, alt: "", loading: "lazy" })
    : h("span", { class: "thumb-empty", "aria-hidden": "true" }, "No images yet");
  const counts = summary
    ? [plural(summary.imageCount, "image"), plural(summary.tagCount, "tag"), plural(summary.iterationCount, "iteration")].join(" · ")
    : "";
  return h("li", { class: "project-card", dataset: { projectId: project.id } },
    h("a", { class: "project-thumb", href: `#/projects/${project.id}`, tabindex: "-1", "aria-hidden": "true" }, thumb),
    h("div", { class: "project-info" },
      h("h2", {}, h("a", { href: `#/projects/${project.id}` }, project.name)),
      h("p", { class: "muted small" }, typeLabel(project, domain)),
      project.description ? h("p", { class: "description" }, project.description) : null,
      h("p", { class: "counts small" }, counts),
      summary?.untaggedCount ? h("p", { class: "small warn" }, `${summary.untaggedCount} untagged`) : null,
      h("p", { class: "muted small" }, `Changed ${when(project.lastModified)}`)),
    h("div", { class: "card-actions" },
      h("button", { type: "button", class: "small", onClick: () => actions.edit(project) }, "Edit"),
      h("button", { type: "button", class: "small", onClick: () => actions.exportDataset(project, domain) }, "Export dataset"),
      h("button", { type: "button", class: "small danger-text", onClick: () => actions.remove(project) }, "Delete")));
}

export async function renderProjects(container) {
  document.title = "Projects · Tagsight";
  setCrumbs([["Projects"]]);
  const list = h("ul", { class: "project-grid", "aria-label": "Projects" });
  const newButton = h("button", { type: "button", class: "primary" }, "New project");
  const importButton = h("button", { type: "button" }, "Import dataset");
  const page = h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, "Projects"), h("div", { class: "head-actions" }, importButton, newButton)), list);
  mount(container, page);

  const domains = await api.domains();
  const domainOf = (id) => domains.find((d) => d.id === id);

  async function load() {
    const [projects, summaries] = await Promise.all([
      api.projects(),
      api.projectSummaries().catch((err) => { showError(err); return []; }),
    ]);
    const byId = Object.fromEntries(summaries.map((s) => [s.projectId, s]));
    projects.sort((a, b) => b.lastModified.localeCompare(a.lastModified));
    if (!projects.length) {
      mount(list, h("li", { class: "empty" }, "No projects yet. Choose ", h("strong", {}, "New project"), " to start."));
      return;
    }
    mount(list, projects.map((p) => card(p, byId[p.id], domainOf(p.settings.domainId), actions)));
  }

  const actions = {
    exportDataset(project, domain) {
      openExportDialog(project, domain?.type === "ObjectDetection");
    },
    async edit(project) {
      const updated = await openProjectForm({ domains, project });
      if (updated) { toast(`Saved “${updated.name}”.`); await load(); }
    },
    async remove(project) {
      const ok = await confirmDialog({
        title: "Delete project?",
        message: `Delete “${project.name}” with all its images, tags and iterations? This cannot be undone.`,
        confirmLabel: "Delete project",
        danger: true,
      });
      if (!ok) return;
      try {
        await api.deleteProject(project.id);
        toast(`Deleted “${project.name}”.`);
        await load();
      } catch (err) {
        showError(err);
      }
    },
  };

  importButton.addEventListener("click", async () => {
    const summary = await openImportDialog();
    if (summary) await load();
  });
  newButton.addEventListener("click", async () => {
    const created = await openProjectForm({ domains });
    if (created) location.hash = `#/projects/${created.id}`;
  });
  try {
    await load();
  } catch (err) {
    mount(list, h("li", {}, errorBox(err)));
  }
  return null;
}
