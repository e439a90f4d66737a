"""Many files at once: the portal uploads them in batches of at most 64, pages the grid, and
deletes a selection in bulk."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

expect = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed").expect

FILES = 70  # two batches: 64 + 6
PAGE = 48  # the grid's page size


def test_upload_in_batches_then_page_and_bulk_delete(server_factory, shared_data: Path, make_portal) -> None:
    server = server_factory()
    portal = make_portal(server.url)
    page = portal.page
    portal.sign_in(server.training_key)
    page.get_by_role("button", name="New project").click()
    portal.dialog().get_by_label("Name").fill("Many ants")
    portal.dialog().get_by_role("button", name="Create project").click()
    page.get_by_role("heading", name="Many ants").wait_for()

    uploads: list = []  # the responses to the upload requests
    page.on(
        "response",
        lambda r: (
            uploads.append(r)
            if r.request.method == "POST" and r.url.split("?")[0].endswith("/images")
            else None
        ),
    )
    ants = sorted((shared_data / "hymenoptera" / "train" / "ants").glob("*.jpg"))[:FILES]
    assert len(ants) == FILES
    page.get_by_role("button", name="Add images").click()
    dialog = portal.dialog()
    dialog.locator("#upload-input").set_input_files([str(f) for f in ants])
    dialog.get_by_text(f"{FILES} files chosen").wait_for()
    dialog.get_by_role("button", name="Upload", exact=True).click()
    dialog.locator(".upload-summary", has_text=f"{FILES} images added, 0 duplicates, 0 refused.").wait_for(
        timeout=60_000
    )
    assert [len(r.json()["images"]) for r in uploads] == [64, FILES - 64]
    expect(dialog.locator(".progress-text")).to_have_text(f"{FILES} of {FILES}")
    expect(dialog.locator(".result.ok")).to_have_count(FILES)
    dialog.get_by_role("button", name="Done").click()

    # Paging: 48 a page.
    grid = page.locator(".image-grid:not([aria-busy]) .image-card")
    expect(grid).to_have_count(PAGE)
    expect(page.locator(".page-range")).to_have_text(f"1–{PAGE} of {FILES}")
    page.get_by_role("button", name="Next ›").click()
    expect(page.locator(".page-range")).to_have_text(f"{PAGE + 1}–{FILES} of {FILES}")
    expect(grid).to_have_count(FILES - PAGE)

    # Select the second page and delete it, after confirming.
    page.get_by_label("Select page").check()
    page.get_by_text(f"{FILES - PAGE} selected").wait_for()
    page.get_by_role("button", name="Delete", exact=True).click()
    portal.dialog().get_by_role("button", name="Delete").click()
    portal.toast(f"Deleted {FILES - PAGE} images.").wait_for()
    expect(page.locator(".filter", has_text="All images").locator(".count")).to_have_text(str(PAGE))
    expect(page.locator(".pager")).to_be_hidden()

    # Drag and drop: anything dropped is sent, and the server's verdict is shown per file.
    page.get_by_role("button", name="Add images").click()
    dialog = portal.dialog()
    dropped = [(ants[-1].name, ants[-1].read_bytes()), ("notes.txt", b"not an image")]  # on page 1: kept
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, data] of files) {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name));
            }
            return transfer;
        }""",
        [[name, base64.b64encode(data).decode()] for name, data in dropped],
    )
    dialog.locator("#dropzone").dispatch_event("drop", {"dataTransfer": transfer})
    dialog.get_by_text("2 files chosen").wait_for()
    dialog.get_by_role("button", name="Upload", exact=True).click()
    dialog.locator(".upload-summary", has_text="0 images added, 1 duplicate, 1 refused.").wait_for()
    expect(dialog.locator(".result.refused")).to_contain_text("notes.txt")
