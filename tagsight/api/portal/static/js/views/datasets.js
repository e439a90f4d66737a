// Datasets in and out: import a zipped COCO / VOC / YOLO / folder / CSV dataset, export a project as one.

import * as api from "../api.js";
import { field, h, mount } from "../dom.js";
import { plural } from "../format.js";
import { errorBox, openDialog, toast } from "../ui.js";

const LABELS = {
  coco: "COCO (annotations.json)",
  voc: "Pascal VOC (XML per image)",
  yolo: "YOLO (labels/*.txt, data.yaml)",
  folder: "Folders (one per tag)",
  csv: "CSV (labels.csv)",
};
const DETECTION = ["coco", "voc", "yolo", "csv"];
const CLASSIFICATION = ["folder", "csv"];

function formatSelect(formats) {
  return h("select", { name: "format" }, formats.map((f) => h("option", { value: f }, LABELS[f])));
}

function summaryNode(summary) {
  const counts = [
    plural(summary.imagesAdded, "image") + " added",
    plural(summary.regionsAdded, "box", "boxes"),
    plural(summary.tagsCreated.length, "new tag"),
  ].join(" · ");
  return h("div", { class: "stack" },
    h("p", {}, `${summary.projectCreated ? "Created" : "Filled"} “${summary.projectName}”: ${counts}.`),
    summary.skipped.length
      ? h("details", { class: "skipped" },
        h("summary", {}, `${plural(summary.skipped.length, "item")} left out`),
        h("ul", { class: "small", style: { maxHeight: "40vh", overflow: "auto" } }, summary.skipped.map((s) => h("li", {}, h("code", {}, s.item), ` ${s.reason}`))))
      : h("p", { class: "muted small" }, "Nothing was left out."));
}

/** The import dialog; resolves to the import summary, or null when cancelled. */
export function openImportDialog({ projectName = "" } = {}) {
  return new Promise((resolve) => {
    let result = null;
    const file = h("input", { type: "file", name: "dataset", accept: ".zip,application/zip", required: true });
    const format = formatSelect(api.DATASET_FORMATS);
    const name = h("input", { type: "text", name: "project", required: true, maxlength: 200, value: projectName });
    const errors = h("div", { "aria-live": "polite" });
    const submit = h("button", { type: "submit", class: "primary" }, "Import");
    const cancel = h("button", { type: "button" }, "Cancel");
    const form = h("form", { class: "stack" },
      field("Dataset (zip)", file, "The dataset's folder, zipped: its files at the top or inside one folder."),
      field("Format", format),
      field("Project", name, "Filled when a project has this name, created otherwise (boxes make it object detection)."),
      errors, h("div", { class: "dialog-actions inline" }, cancel, submit));
    const dialog = openDialog({ title: "Import dataset", body: form, onClose: () => resolve(result) });
    cancel.addEventListener("click", dialog.close);

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      submit.textContent = "Importing…";
      mount(errors);
      try {
        result = await api.importDataset(file.files[0], format.value, { projectName: name.value.trim() });
        const done = h("button", { type: "button", class: "primary" }, "Done");
        done.addEventListener("click", dialog.close);
        mount(form, summaryNode(result), h("div", { class: "dialog-actions inline" }, done));
        done.focus();
      } catch (err) {
        mount(errors, errorBox(err));
        submit.disabled = false;
        submit.textContent = "Import";
      }
    });
  });
}

/** The export dialog: pick a format the project's kind fits, download the zip. */
export function openExportDialog(project, detection) {
  const format = formatSelect(detection ? DETECTION : CLASSIFICATION);
  const errors = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary" }, "Download");
  const cancel = h("button", { type: "button" }, "Cancel");
  const form = h("form", { class: "stack" },
    field("Format", format, "The tagged images with their tags or boxes; untagged images are left out."),
    errors, h("div", { class: "dialog-actions inline" }, cancel, submit));
  const dialog = openDialog({ title: `Export “${project.name}”`, body: form });
  cancel.addEventListener("click", dialog.close);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    mount(errors);
    try {
      const blob = await api.exportDataset(project.id, format.value);
      const link = h("a", { href: URL.createObjectURL(blob), download: `${project.name}-${format.value}.zip` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      toast(`Exported “${project.name}” as ${format.value}.`);
      dialog.close();
    } catch (err) {
      mount(errors, errorBox(err));
      submit.disabled = false;
    }
  });
}
