// The portal's entry point: the app shell, sign-in gate and hash router.
//
//   #/                                  projects
//   #/projects/<id>[/images]            a project's training images
//   #/projects/<id>/performance[/<it>]  iterations and their performance
//   #/projects/<id>/suggested           untagged images by uncertainty (smart labeler)
//   #/projects/<id>/predictions         stored predictions

import { keys } from "./api.js";
import { h, mount } from "./dom.js";
import { clearToasts, errorText } from "./ui.js";
import { renderProjects } from "./views/projects.js";
import { renderProject } from "./views/project.js";
import { renderSignIn } from "./views/signin.js";

const app = document.getElementById("app");
let cleanup = null;

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "projects" && parts[1]) {
    return { name: "project", projectId: parts[1], tab: parts[2] || "images", itemId: parts[3] || null };
  }
  return { name: "projects" };
}

function shell() {
  const signOut = h("button", { type: "button", class: "ghost", onClick: () => { keys.signOut(); render(); } }, "Sign out");
  const main = h("main", { id: "view", tabindex: "-1" });
  mount(app,
    h("a", { class: "skip-link", href: "#view", onClick: (e) => { e.preventDefault(); main.focus(); } }, "Skip to content"),
    h("header", { class: "topbar" },
      h("a", { class: "brand", href: "#/" }, h("span", { class: "logo", "aria-hidden": "true" }, "◩"), "Tagsight"),
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb", id: "crumbs" }),
      signOut),
    main);
  return main;
}

let renders = 0;

async function render(message) {
  const token = ++renders;
  cleanup?.();
  cleanup = null;
  if (!keys.training) {
    document.title = "Sign in · Tagsight";
    renderSignIn(app, { message, onSignedIn: render });
    return;
  }
  const route = parseRoute();
  const main = document.getElementById("view") || shell();
  // Each render draws into its own root: a slow, superseded one only fills a detached element.
  const root = h("div", { class: "view-root" });
  main.replaceChildren(root);
  let dispose = null;
  try {
    dispose = route.name === "project" ? await renderProject(root, route) : await renderProjects(root);
  } catch (err) {
    mount(root, h("section", { class: "page" }, h("h1", {}, "Something went wrong"),
      h("p", { class: "error", role: "alert" }, errorText(err)),
      h("p", {}, h("a", { href: "#/" }, "Back to projects"))));
  }
  if (token === renders) cleanup = dispose;
  else dispose?.(); // superseded while loading: stop its timers now
}

window.addEventListener("hashchange", () => { clearToasts(); render(); });
// Any call that meets a 401 (the key was rotated) sends the user back to sign in.
window.addEventListener("tagsight:unauthorized", (event) => {
  keys.signOut();
  render(`Signed out: ${event.detail.message}`);
});
render();
