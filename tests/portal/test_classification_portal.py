"""The whole classification workflow in the portal, in a real Chromium, on real ant and bee photos:
sign in, create a project, tags, upload, bulk tagging, image detail, train, performance, publish,
the Prediction URL panel, quick test, and a stored prediction added to the training images."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

expect = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed").expect
PER_TAG = 5
NARROW = {"width": 420, "height": 860}


def payloads(files: list[Path]) -> list[dict[str, Any]]:
    return [{"name": f.name, "mimeType": "image/jpeg", "buffer": f.read_bytes()} for f in files]


def upload(portal: Any, files: list[dict[str, Any]], tags: list[str], summary: str) -> Any:
    page = portal.page
    page.get_by_role("button", name="Add images").click()
    dialog = portal.dialog()
    dialog.locator("#upload-input").set_input_files(files)
    for tag in tags:
        dialog.get_by_role("checkbox", name=tag, exact=True).check()
    dialog.get_by_role("button", name="Upload", exact=True).click()
    dialog.locator(".upload-summary").filter(has_text=summary).wait_for()
    return dialog


def sidebar_count(portal: Any, label: str) -> str:
    return portal.page.locator(".filter", has_text=label).locator(".count").inner_text()


def test_classification_workflow(server_factory, shared_data: Path, make_portal) -> None:
    server = server_factory(min_images_per_tag=3)
    portal = make_portal(server.url)
    page = portal.page
    ants = sorted((shared_data / "hymenoptera" / "train" / "ants").glob("*.jpg"))[:PER_TAG]
    bees = sorted((shared_data / "hymenoptera" / "train" / "bees").glob("*.jpg"))[:PER_TAG]
    val_bee = sorted((shared_data / "hymenoptera" / "val" / "bees").glob("*.jpg"))[0]

    # Sign in: a wrong key is refused in words, the right one opens the (empty) projects page.
    page.goto(server.url + "/")
    portal.screenshot("signin")
    page.get_by_label("Training key").fill("not-the-key")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="not valid").wait_for()
    portal.sign_in(server.training_key)
    page.get_by_text("No projects yet").wait_for()

    # Create a multiclass classification project.
    page.get_by_role("button", name="New project").click()
    dialog = portal.dialog()
    dialog.get_by_label("Name").fill("Ants and bees")
    dialog.get_by_label("Description").fill("Hymenoptera from the shared data.")
    assert dialog.get_by_label("Domain").locator("option:checked").inner_text() == "General"
    dialog.get_by_role("button", name="Create project").click()
    page.get_by_role("heading", name="Ants and bees").wait_for()
    project_id = portal.project_id()
    assert "Multiclass classification" in page.locator(".project-page .page-head").inner_text()

    # Tags: add two, a duplicate name is refused with the server's message, a Negative tag comes and goes.
    for name in ("ant", "bee"):
        page.get_by_label("New tag name").fill(name)
        page.get_by_role("button", name="Add tag").click()
        page.locator(".tag-row", has_text=name).wait_for()
    page.get_by_label("New tag name").fill("ant")
    page.get_by_role("button", name="Add tag").click()
    portal.toast("already exists").wait_for()
    page.get_by_role("button", name="+ Add a Negative tag").click()
    page.locator(".tag-row", has_text="Negative").locator(".badge").wait_for()
    page.get_by_role("button", name="Delete tag Negative").click()
    portal.dialog().get_by_role("button", name="Delete tag").click()
    page.locator(".tag-row", has_text="Negative").wait_for(state="detached")

    # Training with no images explains why it cannot start.
    page.get_by_role("button", name="Train").click()
    portal.dialog().get_by_role("button", name="Train").click()
    portal.dialog().get_by_text("Training could not start.").wait_for()
    assert portal.dialog().get_by_role("alert").inner_text().strip(), "the refusal is explained in words"
    page.keyboard.press("Escape")
    portal.dialog().wait_for(state="detached")

    # Upload ants tagged "ant", plus a file that is not an image: refused with its reason.
    dialog = upload(
        portal,
        [*payloads(ants), {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not an image"}],
        ["ant"],
        f"{PER_TAG} images added, 0 duplicates, 1 refused.",
    )
    refused = dialog.locator(".result.refused")
    assert "notes.jpg" in refused.inner_text() and "Not a supported image" in refused.inner_text()
    assert dialog.locator(".result.ok").count() == PER_TAG
    portal.screenshot("upload-results")
    dialog.get_by_role("button", name="Done").click()

    # Upload bees untagged, with one ant again: reported as a duplicate.
    dialog = upload(
        portal, payloads([*bees, ants[0]]), [], f"{PER_TAG} images added, 1 duplicate, 0 refused."
    )
    assert ants[0].name in dialog.locator(".result.duplicate").inner_text()
    dialog.get_by_role("button", name="Done").click()
    page.locator(".filter", has_text="Untagged").locator(".count", has_text=str(PER_TAG)).wait_for()
    assert sidebar_count(portal, "All images") == str(2 * PER_TAG)

    # Bulk-tag the untagged images as bees.
    page.locator(".filter", has_text="Untagged").click()
    expect(page.locator(".image-grid:not([aria-busy]) .image-card")).to_have_count(PER_TAG)
    page.get_by_label("Select page").check()
    page.get_by_text(f"{PER_TAG} selected").wait_for()
    page.get_by_role("button", name="Tag…", exact=True).click()
    portal.dialog().get_by_role("checkbox", name="bee").check()
    portal.dialog().get_by_role("button", name="Add tags").click()
    portal.toast(f"Tagged {PER_TAG} images.").wait_for()
    page.get_by_text("No images match this filter.").wait_for()
    assert page.locator(".tag-row", has_text="bee").locator(".count").inner_text() == str(PER_TAG)
    page.locator(".filter", has_text="All images").click()
    expect(page.locator(".image-grid:not([aria-busy]) .image-card")).to_have_count(2 * PER_TAG)
    portal.screenshot("training-images")

    # Image detail: untag and re-tag one image; PageDown goes to the next image; Escape closes.
    page.locator(".image-card .thumb-button").first.click()
    dialog = portal.dialog()
    dialog.get_by_role("heading", name=f"Image 1 of {2 * PER_TAG}").wait_for()
    tag_name = dialog.locator(".chip").first.inner_text().replace("×", "").strip()
    dialog.get_by_role("button", name=f"Remove tag {tag_name}").click()
    dialog.get_by_text("Untagged.").wait_for()
    dialog.locator("#add-tag-select").select_option(label=tag_name)
    dialog.get_by_role("button", name="Add tag").click()
    dialog.locator(".chip", has_text=tag_name).wait_for()
    portal.screenshot("image-detail")
    page.keyboard.press("PageDown")
    dialog.get_by_role("heading", name=f"Image 2 of {2 * PER_TAG}").wait_for()
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")

    # Train (Quick): the performance page follows the progress, then shows the figures.
    page.get_by_role("button", name="Train").click()
    portal.dialog().get_by_role("button", name="Train").click()
    page.wait_for_url(re.compile(r"/performance/"))
    page.locator("#fig-precision, #training-error").first.wait_for(timeout=180_000)
    if page.locator("#training-error").count():
        pytest.fail(page.locator("#training-error").inner_text())
    figures = page.locator(".figures").inner_text()
    assert "Precision" in figures and "Recall" in figures and "AP" in figures
    per_tag = page.locator("table.per-tag tbody")
    assert (
        per_tag.locator("tr").count() == 2 and "ant" in per_tag.inner_text() and "bee" in per_tag.inner_text()
    )
    page.locator(".pr-chart").nth(1).wait_for()
    assert page.locator(".pr-chart circle.marker").count() >= 1
    matrix = page.locator("table.confusion")
    assert matrix.locator("tbody tr").count() == 2
    evaluated = re.search(r"of (\d+) wrong at this threshold", page.locator("#mistake-count").inner_text())
    assert evaluated, "the wrong images are counted out of the evaluated ones"
    counted = sum(int(c) for c in matrix.locator("tbody td").all_inner_texts())
    assert counted == int(evaluated.group(1)) > 0, "every evaluated image lands in one cell"
    portal.screenshot("performance", full_page=True)

    # The threshold slider re-queries the figures.
    page.locator("#threshold").fill("90")
    page.locator("output[for=threshold]", has_text="90%").wait_for()
    page.locator("table.per-tag caption", has_text="probability 90%").wait_for()

    # Publish, then the Prediction URL panel gives a URL, header and snippets that work.
    page.get_by_role("button", name="Publish", exact=True).click()
    portal.dialog().get_by_label("Model name").fill("ants-and-bees")
    portal.dialog().get_by_role("button", name="Publish").click()
    page.locator(".badge", has_text="Published: ants-and-bees").wait_for()
    page.get_by_role("button", name="Prediction URL").click()
    dialog = portal.dialog()
    endpoint = dialog.locator("#image-endpoint").inner_text()
    assert endpoint == (
        f"{server.url}/customvision/v3.1/prediction/{project_id}/classify/iterations/ants-and-bees/image"
    )
    assert "<your prediction key>" in dialog.locator("#curl-snippet").inner_text()
    dialog.get_by_label("Prediction key").fill(server.prediction_key)
    curl = dialog.locator("#curl-snippet").inner_text()
    assert f"Prediction-Key: {server.prediction_key}" in curl and endpoint in curl
    assert (
        f'predictor.classify_image("{project_id}", "ants-and-bees"'
        in dialog.locator("#python-snippet").inner_text()
    )
    portal.screenshot("prediction-url")
    answer = httpx.post(
        endpoint,
        headers={"Prediction-Key": server.prediction_key, "Content-Type": "application/octet-stream"},
        content=val_bee.read_bytes(),
    )
    assert answer.status_code == 200 and {p["tagName"] for p in answer.json()["predictions"]} == {
        "ant",
        "bee",
    }
    page.keyboard.press("Escape")

    # Unpublish asks first, then the badge goes; publish again for the steps below.
    page.get_by_role("button", name="Unpublish").click()
    portal.dialog().get_by_role("button", name="Unpublish").click()
    expect(page.locator(".badge", has_text="Published")).to_have_count(0)
    page.get_by_role("button", name="Publish", exact=True).click()
    portal.dialog().get_by_role("button", name="Publish").click()
    page.locator(".badge", has_text="Published: Iteration1").wait_for()

    # Quick test a bee the model has not seen: both tags listed with probabilities.
    page.get_by_role("button", name="Quick test").click()
    dialog = portal.dialog()
    dialog.locator("#quick-test-iteration option").first.wait_for(state="attached")
    dialog.locator("#quick-test-file").set_input_files(str(val_bee))
    rows = dialog.locator(".predictions-table tbody tr")
    rows.nth(1).wait_for()
    assert {rows.nth(i).locator("th").inner_text() for i in range(2)} == {"ant", "bee"}
    assert re.fullmatch(r"\d+\.\d%", rows.first.locator(".bar-value").inner_text())
    portal.screenshot("quick-test")
    page.set_viewport_size(NARROW)
    portal.screenshot("narrow-quick-test")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.keyboard.press("Escape")

    # Predictions: the quick test and the published-model call are stored; add one to training.
    page.get_by_role("link", name="Predictions").click()
    cards = page.locator(".predictions-grid .image-card")
    cards.nth(1).wait_for()
    assert cards.count() == 2
    portal.screenshot("predictions")
    cards.first.locator(".thumb-button").click()
    dialog = portal.dialog()
    dialog.get_by_role("checkbox", name="ant").uncheck()
    dialog.get_by_role("checkbox", name="bee").check()
    dialog.get_by_role("button", name="Add to training images").click()
    portal.toast("Added to the training images.").wait_for()
    dialog.wait_for(state="detached")
    assert cards.count() == 1

    page.get_by_role("link", name="Training images").click()
    page.locator(".filter", has_text="All images").locator(".count", has_text=str(2 * PER_TAG + 1)).wait_for()
    assert page.locator(".tag-row", has_text="bee").locator(".count").inner_text() == str(PER_TAG + 1)

    # The projects page shows the project's thumbnail and counts.
    page.get_by_role("link", name="Projects").click()
    card = page.locator(".project-card", has_text="Ants and bees")
    card.locator(".counts", has_text=f"{2 * PER_TAG + 1} images · 2 tags · 1 iteration").wait_for()
    assert card.locator(".project-thumb img").get_attribute("src")
    portal.screenshot("projects")

    # The same pages on a narrow window.
    page.set_viewport_size(NARROW)
    portal.screenshot("narrow-projects", full_page=True)
    page.goto(f"{server.url}/#/projects/{project_id}/images")
    page.locator(".image-card").first.wait_for()
    portal.screenshot("narrow-training-images")
    page.goto(f"{server.url}/#/projects/{project_id}/performance")
    page.locator("#fig-precision").wait_for()
    portal.screenshot("narrow-performance", full_page=True)
