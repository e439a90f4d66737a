// Sign in with the training key (checked against the server, kept in sessionStorage).

import { checkKey, keys } from "../api.js";
import { h, mount } from "../dom.js";
import { errorBox } from "../ui.js";

export function renderSignIn(container, { message, onSignedIn }) {
  const input = h("input", {
    type: "password", id: "training-key", name: "training-key", autocomplete: "current-password",
    required: true, spellcheck: "false",
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const errors = h("div", { "aria-live": "polite" }, message ? h("p", { class: "notice" }, message) : null);
  const form = h("form", { class: "signin-card stack" },
    h("h1", {}, h("span", { class: "logo", "aria-hidden": "true" }, "◩"), " Tagsight"),
    h("p", { class: "muted" }, "Custom Vision on your own machine. Sign in with the training key that ",
      h("code", {}, "tagsight serve"), " printed (or ", h("code", {}, "tagsight keys"), " shows)."),
    h("label", { class: "field", for: "training-key" }, h("span", { class: "field-label" }, "Training key"), input),
    errors,
    submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    submit.disabled = true;
    mount(errors);
    try {
      await checkKey(key);
      keys.training = key;
      onSignedIn();
    } catch (err) {
      mount(errors, errorBox(err.status === 401 ? new Error("That training key is not valid for this server.") : err));
      input.select();
    } finally {
      submit.disabled = false;
    }
  });
  mount(container, h("div", { class: "signin" }, form));
  input.focus();
}
