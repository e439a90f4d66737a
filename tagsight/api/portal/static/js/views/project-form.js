// The create / edit project dialog: name, description, project type, classification type, domain.

import * as api from "../api.js";
import { field, h, mount } from "../dom.js";
import { errorBox, openDialog } from "../ui.js";

const TYPES = [
  ["Classification", "Classification", "Which tags apply to the whole image."],
  ["ObjectDetection", "Object detection", "Where each tagged object is, as a box."],
];
const CLASSIFICATION_TYPES = [
  ["Multiclass", "Multiclass (one tag per image)"],
  ["Multilabel", "Multilabel (several tags per image)"],
];

function radioGroup(name, legend, options, checked) {
  return h("fieldset", { class: "radios" }, h("legend", {}, legend),
    options.map(([value, label, hint]) => h("label", { class: "radio" },
      h("input", { type: "radio", name, value, checked: value === checked }),
      h("span", {}, h("strong", {}, label), hint ? h("span", { class: "hint" }, hint) : null))));
}

/** Resolves to the created/updated project, or null when cancelled. */
export function openProjectForm({ domains, project = null }) {
  return new Promise((resolve) => {
    let result = null;
    const domainOf = (id) => domains.find((d) => d.id === id);
    const current = project ? domainOf(project.settings.domainId) : null;
    const name = h("input", { type: "text", name: "name", required: true, maxlength: 200, value: project?.name || "" });
    const description = h("textarea", { name: "description", rows: 2, maxlength: 4000 }, project?.description || "");
    const typeGroup = radioGroup("projectType", "Project type", TYPES, current?.type || "Classification");
    const classGroup = radioGroup("classificationType", "Classification type", CLASSIFICATION_TYPES,
      project?.settings.classificationType || "Multiclass");
    const domain = h("select", { name: "domain" });
    const domainHint = h("span", { class: "hint" });
    const errors = h("div", { "aria-live": "polite" });
    const submit = h("button", { type: "submit", class: "primary" }, project ? "Save changes" : "Create project");
    const cancel = h("button", { type: "button" }, "Cancel");

    const selectedType = () => typeGroup.querySelector("input:checked").value;
    function refreshDomains() {
      const type = selectedType();
      const choices = domains.filter((d) => d.type === type && d.enabled);
      const keep = choices.some((d) => d.id === domain.value) ? domain.value : (current?.type === type ? current.id : choices[0]?.id);
      mount(domain, choices.map((d) => h("option", { value: d.id, selected: d.id === keep }, d.name)));
      domain.value = keep;
      classGroup.hidden = type !== "Classification";
      domainHint.textContent = domainOf(domain.value)?.modelInformation?.description || "";
    }
    typeGroup.addEventListener("change", refreshDomains);
    domain.addEventListener("change", refreshDomains);

    const form = h("form", { class: "stack", id: "project-form" },
      field("Name", name), field("Description", description), typeGroup, classGroup,
      h("label", { class: "field" }, h("span", { class: "field-label" }, "Domain"), domain, domainHint),
      errors, h("div", { class: "dialog-actions inline" }, cancel, submit));
    refreshDomains();

    const { close } = openDialog({
      title: project ? `Edit “${project.name}”` : "New project",
      body: form,
      onClose: () => resolve(result),
    });
    cancel.addEventListener("click", close);
    name.focus();

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      mount(errors);
      const classificationType = selectedType() === "Classification"
        ? classGroup.querySelector("input:checked").value : undefined;
      try {
        if (project) {
          result = await api.updateProject(project.id, {
            name: name.value.trim(),
            description: description.value,
            settings: { domainId: domain.value, classificationType },
          });
        } else {
          result = await api.createProject({
            name: name.value.trim(), description: description.value, domainId: domain.value, classificationType,
          });
        }
        close();
      } catch (err) {
        mount(errors, errorBox(err));
      } finally {
        submit.disabled = false;
      }
    });
  });
}
