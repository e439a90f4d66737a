"""What the SDK cannot send: routing quirks, auth headers, raw bodies, error shapes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import imagegen
import pytest


@pytest.fixture
def http(live_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, headers={"Training-Key": live_server.training_key}) as client:
        yield client


def test_every_training_version_serves_the_same_handlers(http) -> None:
    for version in ("v3.0", "v3.1", "v3.2", "v3.3", "v3.4-preview"):
        response = http.get(f"/customvision/{version}/training/domains")
        assert response.status_code == 200, version
        assert any(d["name"] == "General" for d in response.json())


def test_case_and_duplicate_slashes_are_normalised(live_server, http) -> None:
    assert http.get("/customvision/v3.3/Training/Domains").status_code == 200
    # What the SDK sends for an endpoint with a trailing slash.
    doubled = f"{live_server.url}//customvision/v3.4-preview/training//domains"
    assert http.get(doubled).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        lambda key: {"Training-Key": key},
        lambda key: {"training-key": key},
        lambda key: {"TRAINING-KEY": key},
        lambda key: {"Ocp-Apim-Subscription-Key": key},
    ],
)
def test_key_headers(live_server, headers) -> None:
    response = httpx.get(
        f"{live_server.url}/customvision/v3.3/training/projects", headers=headers(live_server.training_key)
    )
    assert response.status_code == 200


def test_missing_or_wrong_key_is_401_with_an_error_body(live_server) -> None:
    url = f"{live_server.url}/customvision/v3.3/training/projects"
    for headers in ({}, {"Training-Key": "wrong"}, {"Training-Key": live_server.prediction_key}):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert body["code"] == "Unauthorized" and "Access denied" in body["message"]


def test_bodyless_post_with_json_content_type(http) -> None:
    name = f"raw-{uuid.uuid4().hex[:8]}"
    response = http.post(
        "/customvision/v3.4-preview/training/projects",
        params={"name": name},
        headers={"Content-Type": "application/json; charset=utf-8", "Content-Length": "0"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == name
    assert "T" in body["created"] and body["created"].endswith("Z")
    assert set(body["settings"]) >= {"domainId", "classificationType", "targetExportPlatforms"}


def test_unknown_route_and_bad_input_use_the_error_shape(http) -> None:
    missing = http.get("/customvision/v3.3/training/nothing-here")
    assert missing.status_code == 404 and set(missing.json()) == {"code", "message"}
    bad = http.get(f"/customvision/v3.3/training/projects/{uuid.uuid4()}/images/tagged", params={"take": 999})
    assert bad.status_code == 400
    assert bad.json()["code"] == "BadRequest" and "take" in bad.json()["message"]
    not_json = http.post(
        f"/customvision/v3.3/training/projects/{uuid.uuid4()}/images/files",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert not_json.status_code == 400 and set(not_json.json()) == {"code", "message"}


def test_multipart_with_several_parts_and_octet_stream(http) -> None:
    project = http.post(
        "/customvision/v3.3/training/projects", params={"name": f"mp-{uuid.uuid4().hex[:8]}"}
    ).json()
    files = [("imageData", (f"{n}.jpg", imagegen.noise_jpeg(900 + n), "image/jpeg")) for n in range(3)]
    response = http.post(f"/customvision/v3.3/training/projects/{project['id']}/images", files=files)
    assert response.status_code == 200, response.text
    assert [i["status"] for i in response.json()["images"]] == ["OK"] * 3
    raw = http.post(
        f"/customvision/v3.3/training/projects/{project['id']}/images",
        content=imagegen.noise_jpeg(999),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert raw.status_code == 200 and raw.json()["images"][0]["status"] == "OK"
    broken = http.post(
        f"/customvision/v3.3/training/projects/{project['id']}/images",
        files=[("imageData", ("t.jpg", imagegen.truncated_jpeg(), "image/jpeg"))],
    )
    assert broken.status_code == 207
    assert broken.json()["isBatchSuccessful"] is False
    assert broken.json()["images"][0]["status"] == "ErrorImageFormat"
    count = http.get(f"/customvision/v3.3/training/projects/{project['id']}/images/count")
    assert count.json() == 4


def test_bad_base64_is_a_per_entry_status(http) -> None:
    project = http.post(
        "/customvision/v3.3/training/projects", params={"name": f"b64-{uuid.uuid4().hex[:8]}"}
    ).json()
    response = http.post(
        f"/customvision/v3.3/training/projects/{project['id']}/images/files",
        json={"images": [{"name": "x", "contents": "!!!not base64!!!"}]},
    )
    assert response.status_code == 207
    assert response.json()["images"][0]["status"] == "ErrorImageFormat"


def test_malformed_guid_in_query_is_400(http) -> None:
    project = http.post(
        "/customvision/v3.3/training/projects", params={"name": f"g-{uuid.uuid4().hex[:8]}"}
    ).json()
    response = http.get(
        f"/customvision/v3.3/training/projects/{project['id']}/images/id", params={"imageIds": "abc,def"}
    )
    assert response.status_code == 400 and response.json()["code"] == "BadRequestInvalidIds"
