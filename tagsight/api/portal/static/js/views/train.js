// The Train dialog: Quick (Regular) or Advanced training with a budget in hours.

import * as api from "../api.js";
import { field, h, mount } from "../dom.js";
import { errorBox, openDialog } from "../ui.js";

/** `onStarted(iteration)` runs once the server has queued the new iteration. */
export function openTrainDialog(ctx, onStarted) {
  const option = (value, title, text, checked) => h("label", { class: "radio" },
    h("input", { type: "radio", name: "trainingType", value, checked }),
    h("span", {}, h("strong", {}, title), h("span", { class: "hint" }, text)));
  const types = h("fieldset", { class: "radios" }, h("legend", {}, "Training type"),
    option("Regular", "Quick training", "Trains in seconds to minutes; good for trying ideas.", true),
    option("Advanced", "Advanced training", "Trains longer, within a budget, for the best model."));
  const budget = h("input", { type: "number", name: "budget", min: 1, max: 96, step: 1, value: 1 });
  const budgetField = field("Budget (hours)", budget, "Training stops at the budget, earlier if it stops improving.");
  budgetField.hidden = true;
  const force = h("label", { class: "check" }, h("input", { type: "checkbox", name: "forceTrain" }), "Train even if nothing changed since the last iteration");
  const errors = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary", id: "start-training" }, "Train");
  const cancel = h("button", { type: "button" }, "Cancel");
  const form = h("form", { class: "stack" },
    h("p", {}, `Train a new iteration of “${ctx.project.name}” on its tagged images.`),
    types, budgetField, force, errors, h("div", { class: "dialog-actions inline" }, cancel, submit));
  types.addEventListener("change", () => {
    budgetField.hidden = types.querySelector("input:checked").value !== "Advanced";
  });
  const { close } = openDialog({ title: "Train", body: form });
  cancel.addEventListener("click", close);
  submit.focus();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const trainingType = types.querySelector("input:checked").value;
    submit.disabled = true;
    mount(errors);
    try {
      const iteration = await api.train(ctx.project.id, {
        trainingType,
        reservedBudgetInHours: trainingType === "Advanced" ? Number(budget.value) || 1 : 0,
        forceTrain: force.querySelector("input").checked || undefined,
      });
      close();
      onStarted(iteration);
    } catch (err) {
      // The server says why in words, e.g. which tag needs more images.
      mount(errors, h("p", { class: "error-title" }, "Training could not start."), errorBox(err));
    } finally {
      submit.disabled = false;
    }
  });
}
