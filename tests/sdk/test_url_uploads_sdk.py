"""Images from URLs: fetched with a size cap and a timeout, never from private addresses by default."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageUrlCreateBatch,
    ImageUrlCreateEntry,
)


class _Files(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ant.jpg")
            self.end_headers()
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def file_server(shared_data: Path) -> Iterator[str]:
    ants = sorted((shared_data / "hymenoptera" / "train" / "ants").glob("*.jpg"))
    _Files.files = {"/ant.jpg": ants[0].read_bytes(), "/ant2.jpg": ants[1].read_bytes(), "/text": b"hello"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_private_addresses_are_refused_by_default(trainer, file_server) -> None:
    project = trainer.create_project(f"urls-{uuid.uuid4().hex[:8]}")
    summary = trainer.create_images_from_urls(
        project.id,
        ImageUrlCreateBatch(
            images=[
                ImageUrlCreateEntry(url=f"{file_server}/ant.jpg"),
                ImageUrlCreateEntry(url="http://169.254.169.254/latest/meta-data"),
                ImageUrlCreateEntry(url="file:///etc/passwd"),
            ]
        ),
    )
    assert [r.status for r in summary.images] == ["ErrorSource"] * 3
    assert trainer.get_image_count(project.id) == 0


def test_urls_fetched_when_allowed(server_factory, file_server) -> None:
    trainer = server_factory(allow_private_urls=True).trainer()
    project = trainer.create_project("urls")
    tag = trainer.create_tag(project.id, "ant")
    summary = trainer.create_images_from_urls(
        project.id,
        ImageUrlCreateBatch(
            images=[
                ImageUrlCreateEntry(url=f"{file_server}/ant.jpg"),
                ImageUrlCreateEntry(url=f"{file_server}/redirect"),  # same bytes as ant.jpg
                ImageUrlCreateEntry(url=f"{file_server}/ant2.jpg"),
                ImageUrlCreateEntry(url=f"{file_server}/missing.jpg"),
                ImageUrlCreateEntry(url=f"{file_server}/text"),
            ],
            tag_ids=[tag.id],
        ),
    )
    assert [r.status for r in summary.images] == [
        "OK",
        "OKDuplicate",
        "OK",
        "ErrorSource",
        "ErrorImageFormat",
    ]
    assert summary.images[0].source_url == f"{file_server}/ant.jpg"
    assert trainer.get_tagged_image_count(project.id) == 2
