"""The portal's end-to-end fixtures: Debian's Chromium, driven by Playwright for Python.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (Debian's
``chromium`` package, which ``.ci/run`` installs). Without it, or without Playwright, the browser
tests skip and say why. Screenshots of the main pages go to ``.ci/artifacts/portal/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("TAGSIGHT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / ".ci" / "artifacts" / "portal"
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright for Python is not installed (pip install -e '.[test]')"
    )
    if not CHROMIUM.exists():
        pytest.skip(f"No Chromium at {CHROMIUM}: install Debian's package (apt-get install -y chromium)")
    with sync_api.sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except sync_api.Error as exc:
            pytest.skip(f"Chromium at {CHROMIUM} did not start: {exc}")
        yield launched
        launched.close()


class Portal:
    """One browser tab on a Tagsight server, with the steps every test repeats."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def sign_in(self, key: str) -> None:
        self.page.goto(self.base_url + "/")
        self.page.get_by_label("Training key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_role("heading", name="Projects", exact=True).wait_for()

    def dialog(self) -> Any:
        return self.page.locator("dialog[open]")

    def toast(self, text: str | re.Pattern[str]) -> Any:
        return self.page.locator(".toast").filter(has_text=text)

    def project_id(self) -> str:
        match = re.search(r"#/projects/([0-9a-f-]{36})", self.page.url)
        assert match, self.page.url
        return match.group(1)

    def screenshot(self, name: str, *, full_page: bool = False) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def make_portal(browser: Any) -> Iterator[Callable[[str], Portal]]:
    """Open the portal of the server at a base URL in a fresh tab (own sessionStorage), 1280×800.

    The test fails if any page threw an uncaught JavaScript error.
    """
    contexts: list[Any] = []
    portals: list[Portal] = []

    def open_portal(base_url: str) -> Portal:
        context = browser.new_context(viewport=DESKTOP)
        context.set_default_timeout(15_000)
        contexts.append(context)
        portal = Portal(context.new_page(), base_url)
        portals.append(portal)
        return portal

    yield open_portal
    for context in contexts:
        context.close()
    errors = [e for p in portals for e in p.errors]
    assert not errors, f"JavaScript errors in the portal: {errors}"
