"""The portal's server side, without a browser: the page, its files, the summary route, packaging."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import httpx

from tagsight.api.portal.routes import STATIC_DIR

REPO = Path(__file__).resolve().parents[2]
TRAINING = "/customvision/v3.4-preview/training"


def test_page_and_modules_are_served(live_server) -> None:
    page = httpx.get(live_server.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/portal/js/main.js">' in page.text
    module = httpx.get(live_server.url + "/portal/js/main.js")
    assert module.status_code == 200 and "javascript" in module.headers["content-type"]
    assert module.headers["cache-control"] == "no-cache"
    missing = httpx.get(live_server.url + "/portal/js/nope.js")
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"


def test_every_module_import_resolves() -> None:
    """A typo in an import path would only show in a browser; catch it here too."""
    for module in STATIC_DIR.rglob("*.js"):
        for target in re.findall(r'^import .* from "(\.{1,2}/[^"]+)";$', module.read_text(), re.MULTILINE):
            assert (module.parent / target).resolve().is_file(), f"{module.name} imports missing {target}"


def test_nothing_is_fetched_from_elsewhere() -> None:
    for path in STATIC_DIR.rglob("*"):
        if path.suffix in {".html", ".js", ".css"}:
            assert not re.search(r"(src|href|url|from)\s*[=(]?\s*[\"']?(https?:)?//", path.read_text()), path


def test_summaries_need_the_training_key(live_server) -> None:
    answer = httpx.get(live_server.url + "/portal/api/projects/summaries")
    assert answer.status_code == 401 and answer.json()["code"] == "Unauthorized"


def test_summaries_count_and_show_the_newest_thumbnail(server_factory, shared_data: Path) -> None:
    server = server_factory()
    headers = {"Training-Key": server.training_key}
    project = httpx.post(
        f"{server.url}{TRAINING}/projects", params={"name": "summaries"}, headers=headers
    ).json()
    tag = httpx.post(
        f"{server.url}{TRAINING}/projects/{project['id']}/tags", params={"name": "ant"}, headers=headers
    ).json()
    ants = sorted((shared_data / "hymenoptera" / "train" / "ants").glob("*.jpg"))[:3]
    files = [("imageData", (f.name, f.read_bytes(), "image/jpeg")) for f in ants]
    httpx.post(
        f"{server.url}{TRAINING}/projects/{project['id']}/images",
        params={"tagIds": tag["id"]},
        files=files[:2],
        headers=headers,
    ).raise_for_status()
    httpx.post(f"{server.url}{TRAINING}/projects/{project['id']}/images", files=files[2:], headers=headers)

    (summary,) = httpx.get(server.url + "/portal/api/projects/summaries", headers=headers).json()
    assert summary == {
        "projectId": project["id"],
        "imageCount": 3,
        "untaggedCount": 1,
        "tagCount": 1,
        "iterationCount": 0,
        "thumbnailUri": summary["thumbnailUri"],
    }
    thumbnail = httpx.get(server.url + summary["thumbnailUri"])
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"


def test_static_files_are_packaged() -> None:
    """Every portal file matches a package-data pattern, so a wheel install serves the portal."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["tagsight"]
    package = STATIC_DIR.parents[2]
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            relative = path.relative_to(package).as_posix()
            assert any(fnmatch.fnmatch(relative, p) for p in patterns), f"{relative} is not in package-data"
