"""The Suggested tab (smart labeler) in a real Chromium, on real ant and bee photos: untagged images
sorted by uncertainty with their suggested tags, counts per suggested tag, accept, correct and
reject one by one, then accept in bulk; each step checked against the server through the SDK."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from training_helpers import wait_for

expect = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed").expect
TAGGED = 3  # per tag
UNTAGGED = 3  # per tag


def upload(trainer: Any, project_id: str, files: list[Path], tag_ids: list[str] | None = None) -> list[Any]:
    entries = [ImageFileCreateEntry(name=f.name, contents=f.read_bytes()) for f in files]
    summary = trainer.create_images_from_files(
        project_id, ImageFileCreateBatch(images=entries, tag_ids=tag_ids)
    )
    assert summary.is_batch_successful
    return [r.image for r in summary.images]


def tags_of(trainer: Any, project_id: str, image_id: str) -> list[str]:
    [image] = trainer.get_images_by_ids(project_id, [image_id])
    return sorted(t.tag_name for t in image.tags or ())


def test_suggested_tab(server_factory, shared_data: Path, make_portal) -> None:
    server = server_factory(min_images_per_tag=TAGGED)
    trainer = server.trainer()
    project = trainer.create_project("Smart labeler", classification_type="Multiclass")
    ant = trainer.create_tag(project.id, "ant")
    bee = trainer.create_tag(project.id, "bee")
    for kind, tag in (("ants", ant), ("bees", bee)):
        folder = shared_data / "hymenoptera"
        upload(trainer, project.id, sorted((folder / "train" / kind).glob("*.jpg"))[:TAGGED], [tag.id])
        upload(trainer, project.id, sorted((folder / "val" / kind).glob("*.jpg"))[:UNTAGGED])
    iteration = wait_for(trainer, project.id, trainer.train_project(project.id).id)
    assert iteration.status == "Completed", iteration.training_error_details

    portal = make_portal(server.url)
    page = portal.page
    portal.sign_in(server.training_key)
    page.goto(f"{server.url}/#/projects/{project.id}/suggested")
    cards = page.locator(".suggest-grid:not([aria-busy]) .suggest-card")
    expect(cards).to_have_count(2 * UNTAGGED)

    # Sorted by uncertainty, most uncertain first, and the counts per suggested tag add up.
    shown = [float(u) for u in cards.evaluate_all("cards => cards.map(c => c.dataset.uncertainty)")]
    assert shown == sorted(shown, reverse=True)
    counts = page.locator("#suggested-counts .filter")
    expect(counts).to_have_count(2)
    total = sum(int(n) for n in counts.locator(".count").all_inner_texts())
    counted = trainer.query_suggested_image_count(project.id, iteration.id, threshold=0.5)
    assert total == sum(counted.values())
    assert page.locator(".filter", has_text="All untagged").locator(".count").inner_text() == str(
        2 * UNTAGGED
    )
    portal.screenshot("suggested")

    # Accept the first suggestion: the image gets exactly the suggested tag.
    first = cards.first
    first_id = first.get_attribute("data-image-id")
    suggested = first.locator(".suggestion-text").inner_text().split(" ")[0]
    first.get_by_role("button", name="Accept suggestion for image 1").click()
    portal.toast(f"Tagged as {suggested}.").last.wait_for()
    expect(cards).to_have_count(2 * UNTAGGED - 1)
    assert tags_of(trainer, project.id, first_id) == [suggested]

    # Correct the next one: choose the other tag in the dialog.
    second = cards.first
    second_id = second.get_attribute("data-image-id")
    wrong = second.locator(".suggestion-text").inner_text().split(" ")[0]
    right = "bee" if wrong == "ant" else "ant"
    second.get_by_role("button", name="Correct image 1", exact=True).click()
    dialog = portal.dialog()
    expect(dialog.get_by_role("radio", name=wrong)).to_be_checked()
    dialog.get_by_role("radio", name=right).check()
    dialog.get_by_role("button", name="Save tags").click()
    portal.toast(f"Tagged as {right}.").last.wait_for()
    expect(cards).to_have_count(2 * UNTAGGED - 2)
    assert tags_of(trainer, project.id, second_id) == [right]

    # Reject the next: it leaves the list but stays untagged.
    third = cards.first
    third_id = third.get_attribute("data-image-id")
    third.get_by_role("button", name="Reject suggestion for image 1").click()
    portal.toast("the image stays untagged").wait_for()
    expect(cards).to_have_count(2 * UNTAGGED - 3)
    assert tags_of(trainer, project.id, third_id) == []

    # Bulk: select the rest and accept every suggestion at once.
    rest = {
        c.get_attribute("data-image-id"): c.locator(".suggestion-text").inner_text().split(" ")[0]
        for c in cards.all()
    }
    page.get_by_label("Select all shown").check()
    page.get_by_text(f"{len(rest)} selected").wait_for()
    page.get_by_role("button", name="Accept suggestions").click()
    portal.toast(f"Accepted {len(rest)} suggestions.").wait_for()
    page.get_by_text("Nothing left to label").wait_for()
    assert {i: tags_of(trainer, project.id, i)[0] for i in rest} == rest
    assert trainer.get_untagged_image_count(project.id) == 1  # only the rejected one
    expect(page.locator(".filter", has_text="All untagged").locator(".count")).to_have_text("1")
