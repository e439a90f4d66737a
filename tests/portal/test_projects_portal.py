"""Projects in the portal, by keyboard where it matters: create, refuse a duplicate name in words,
edit, delete with confirmation, Escape closes dialogs, the Train dialog's budget, sign out."""

from __future__ import annotations

import pytest

expect = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed").expect

NARROW = {"width": 420, "height": 860}


def test_projects_by_keyboard(server_factory, make_portal) -> None:
    server = server_factory()
    portal = make_portal(server.url)
    page = portal.page
    portal.sign_in(server.training_key)

    # Tab to "New project", Enter opens the dialog with the focus in Name.
    new_project = page.get_by_role("button", name="New project")
    for _ in range(10):
        page.keyboard.press("Tab")
        if new_project.evaluate("b => b === document.activeElement"):
            break
    expect(new_project).to_be_focused()
    portal.screenshot("focus-ring")
    page.keyboard.press("Enter")
    dialog = portal.dialog()
    expect(dialog.get_by_label("Name")).to_be_focused()
    page.keyboard.type("Portal keyboard project")
    dialog.get_by_role("radio", name="Multilabel (several tags per image)").check()
    dialog.get_by_label("Domain").select_option(label="Food")
    expect(dialog.locator(".field", has_text="Domain").locator(".hint")).to_contain_text("food")
    page.set_viewport_size(NARROW)
    portal.screenshot("narrow-new-project")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Portal keyboard project").wait_for()
    assert "Multilabel classification · Food" in page.locator(".project-page .page-head").inner_text()

    # The Train dialog asks for a budget only for Advanced training; Escape closes it.
    page.get_by_role("button", name="Train").click()
    dialog = portal.dialog()
    expect(dialog.get_by_label("Budget (hours)")).to_be_hidden()
    dialog.get_by_role("radio", name="Advanced training").check()
    expect(dialog.get_by_label("Budget (hours)")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)

    # A second project with the same name is refused in words; the dialog stays open.
    page.get_by_role("link", name="Projects").click()
    page.get_by_role("button", name="New project").click()
    dialog = portal.dialog()
    dialog.get_by_label("Name").fill("Portal keyboard project")
    dialog.get_by_role("button", name="Create project").click()
    expect(dialog.get_by_role("alert")).to_contain_text("already exists")
    dialog.get_by_label("Name").fill("Portal doomed project")
    dialog.get_by_role("radio", name="Object detection").check()
    dialog.get_by_role("button", name="Create project").click()
    page.get_by_role("heading", name="Portal doomed project").wait_for()

    # Edit: rename and describe.
    page.get_by_role("link", name="Projects").click()
    card = page.locator(".project-card", has_text="Portal keyboard project")
    card.get_by_role("button", name="Edit").click()
    dialog = portal.dialog()
    expect(dialog.get_by_label("Domain").locator("option:checked")).to_have_text("Food")
    dialog.get_by_label("Name").fill("Portal renamed project")
    dialog.get_by_label("Description").fill("Now with a description.")
    dialog.get_by_role("button", name="Save changes").click()
    card = page.locator(".project-card", has_text="Portal renamed project")
    expect(card.locator(".description")).to_have_text("Now with a description.")
    expect(card.locator(".counts")).to_have_text("0 images · 0 tags · 0 iterations")

    # Delete asks first: Cancel keeps the project, confirming deletes it.
    doomed = page.locator(".project-card", has_text="Portal doomed project")
    assert "Object detection" in doomed.inner_text()
    doomed.get_by_role("button", name="Delete").click()
    portal.dialog().get_by_role("button", name="Cancel").click()
    expect(doomed).to_have_count(1)
    doomed.get_by_role("button", name="Delete").click()
    portal.dialog().get_by_role("button", name="Delete project").click()
    expect(doomed).to_have_count(0)
    portal.toast("Deleted").wait_for()

    # Sign out forgets the key, also across a reload.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Training key").wait_for()
    page.reload()
    page.get_by_label("Training key").wait_for()


def test_unknown_project_is_explained(server_factory, make_portal) -> None:
    server = server_factory()
    portal = make_portal(server.url)
    portal.sign_in(server.training_key)
    portal.page.goto(f"{server.url}/#/projects/00000000-0000-0000-0000-000000000000")
    expect(portal.page.get_by_role("alert")).to_contain_text("not found")
    portal.page.get_by_role("link", name="Back to projects").click()
    portal.page.get_by_role("heading", name="Projects", exact=True).wait_for()
