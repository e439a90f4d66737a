// Shared UI pieces: modal dialogs (native <dialog>: focus trap, Escape closes), toasts, error text.

import { h, mount } from "./dom.js";

const MAX_TOASTS = 3;

/** The words to show for any thrown error. */
export function errorText(err) {
  if (err && typeof err.message === "string" && err.message) return err.message;
  return String(err);
}

/** An inline error box (role=alert so screen readers announce it). Empty when `err` is null. */
export function errorBox(err) {
  return err ? h("p", { class: "error", role: "alert" }, errorText(err)) : null;
}

/** A short message in the corner; errors stay until dismissed. */
export function toast(message, kind = "info") {
  const region = document.getElementById("toasts");
  const close = h("button", { type: "button", class: "icon", "aria-label": "Dismiss" }, "×");
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", {}, message), close);
  close.addEventListener("click", () => item.remove());
  region.append(item);
  // Keep the corner readable: a few at a time, errors linger longer than news.
  while (region.children.length > MAX_TOASTS) region.firstElementChild.remove();
  setTimeout(() => item.remove(), kind === "error" ? 12000 : 4000);
}

/** Clear every toast (on navigation: they belong to the page that raised them). */
export function clearToasts() {
  document.getElementById("toasts")?.replaceChildren();
}

export const showError = (err) => toast(errorText(err), "error");

/**
 * Open a modal dialog. `body` and `actions` are nodes; returns {dialog, body, close}.
 * Escape (the native `cancel` event) and the × button both close it; `onClose` runs once.
 */
export function openDialog({ title, body, actions = [], wide = false, onClose, className }) {
  const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
  const closeButton = h("button", { type: "button", class: "icon", "aria-label": "Close" }, "×");
  const content = h("div", { class: "dialog-body" }, body);
  const dialog = h("dialog", { class: ["dialog", wide && "wide", className], "aria-labelledby": titleId },
    h("header", { class: "dialog-head" }, h("h2", { id: titleId }, title), closeButton),
    content,
    actions.length ? h("footer", { class: "dialog-actions" }, actions) : null);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    dialog.close();
    dialog.remove();
    onClose?.();
  };
  closeButton.addEventListener("click", close);
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    close();
  });
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, body: content, close };
}

/** Ask a yes/no question; resolves true when confirmed. */
export function confirmDialog({ title, message, confirmLabel = "OK", danger = false }) {
  return new Promise((resolve) => {
    let answer = false;
    const ok = h("button", { type: "button", class: danger ? "danger" : "primary" }, confirmLabel);
    const cancel = h("button", { type: "button" }, "Cancel");
    const { close } = openDialog({
      title,
      body: h("p", {}, message),
      actions: [cancel, ok],
      onClose: () => resolve(answer),
    });
    ok.addEventListener("click", () => { answer = true; close(); });
    cancel.addEventListener("click", close);
    cancel.focus();
  });
}

/** Ask for one line of text; resolves to the text or null. */
export function promptDialog({ title, label, value = "", confirmLabel = "Save" }) {
  return new Promise((resolve) => {
    let answer = null;
    const input = h("input", { type: "text", value, required: true });
    const form = h("form", { class: "stack" }, h("label", { class: "field" }, h("span", { class: "field-label" }, label), input));
    const ok = h("button", { type: "submit", class: "primary" }, confirmLabel);
    const cancel = h("button", { type: "button" }, "Cancel");
    form.append(h("div", { class: "dialog-actions inline" }, cancel, ok));
    const { close } = openDialog({ title, body: form, onClose: () => resolve(answer) });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      answer = input.value.trim() || null;
      close();
    });
    cancel.addEventListener("click", close);
    input.select();
  });
}

/** Disable a button while `work` runs; errors go to `onError` (default: a toast). */
export async function busy(button, work, onError = showError) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } catch (err) {
    onError(err);
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
  }
}

/** A progress bar element with a `set(fraction, text)` method. */
export function progressBar(label) {
  const bar = h("progress", { max: 1, value: 0, "aria-label": label });
  const text = h("span", { class: "progress-text" });
  const el = h("div", { class: "progress" }, bar, text);
  el.set = (fraction, message) => {
    bar.value = Math.max(0, Math.min(1, fraction));
    text.textContent = message ?? `${Math.round(bar.value * 100)}%`;
  };
  return el;
}

/** Views call this to show where the user is: [[label, href], ..., [label]]. */
export function setCrumbs(items) {
  const nav = document.getElementById("crumbs");
  if (!nav) return;
  mount(nav, items.map(([label, href], i) => [
    i ? h("span", { class: "sep", "aria-hidden": "true" }, "/") : null,
    href ? h("a", { href }, label) : h("span", { "aria-current": "page" }, label),
  ]));
}
