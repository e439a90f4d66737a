// A project's page: header, tabs (training images, suggested, performance, predictions), Train and
// Quick test.

import * as api from "../api.js";
import { h, mount } from "../dom.js";
import { isDetection } from "../format.js";
import { setCrumbs } from "../ui.js";
import { renderImages } from "./images.js";
import { renderPerformance } from "./performance.js";
import { renderPredictions } from "./predictions.js";
import { openQuickTest } from "./quicktest.js";
import { renderSuggested } from "./suggested.js";
import { openTrainDialog } from "./train.js";

const TABS = [
  ["images", "Training images", renderImages],
  ["suggested", "Suggested", renderSuggested],
  ["performance", "Performance", renderPerformance],
  ["predictions", "Predictions", renderPredictions],
];

/** What every tab of a project needs; `refreshTags` reloads the tag list (and counts). */
async function projectContext(projectId) {
  const [project, domains, tags] = await Promise.all([api.project(projectId), api.domains(), api.tags(projectId)]);
  const domain = domains.find((d) => d.id === project.settings.domainId);
  const ctx = {
    project,
    domain,
    detection: isDetection(domain),
    multilabel: project.settings.classificationType === "Multilabel",
    tags,
    async refreshTags() {
      ctx.tags = await api.tags(projectId);
      return ctx.tags;
    },
    tagName(id) {
      return ctx.tags.find((t) => t.id === id)?.name || "(deleted tag)";
    },
  };
  return ctx;
}

export async function renderProject(container, route) {
  const ctx = await projectContext(route.projectId);
  const { project } = ctx;
  const tab = TABS.find(([name]) => name === route.tab) || TABS[0];
  document.title = `${project.name} · ${tab[1]} · Tagsight`;
  setCrumbs([["Projects", "#/"], [project.name]]);

  const kind = ctx.detection ? "Object detection" : `${project.settings.classificationType || "Multiclass"} classification`;
  const trainButton = h("button", { type: "button", class: "primary", id: "train-button" }, "Train");
  const quickTestButton = h("button", { type: "button", id: "quick-test-button" }, "Quick test");
  const content = h("div", { class: "tab-content" });
  mount(container,
    h("section", { class: "page project-page" },
      h("div", { class: "page-head" },
        h("div", {}, h("h1", {}, project.name), h("p", { class: "muted small" }, `${kind} · ${ctx.domain?.name || "unknown domain"}`)),
        h("div", { class: "head-actions" }, quickTestButton, trainButton)),
      h("nav", { class: "tabs", "aria-label": "Project sections" },
        TABS.map(([name, label]) => h("a", {
          href: `#/projects/${project.id}/${name}`,
          class: ["tab", name === tab[0] && "active"],
          "aria-current": name === tab[0] ? "page" : null,
        }, label))),
      content));

  trainButton.addEventListener("click", () => openTrainDialog(ctx, (iteration) => {
    location.hash = `#/projects/${project.id}/performance/${iteration.id}`;
  }));
  quickTestButton.addEventListener("click", () => openQuickTest(ctx));
  return tab[2](content, ctx, route.itemId);
}
