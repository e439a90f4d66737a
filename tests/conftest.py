"""Shared fixtures: a real server on loopback, the official SDK clients, the shared image data."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from msrest.authentication import ApiKeyCredentials
from shared_data import SHARED_DATA

from tagsight.api.app import create_app
from tagsight.config import Limits, Settings


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if SHARED_DATA is None:
        pytest.skip("../shared/data is not available (set TAGSIGHT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings in the developer's environment must not change what tests see."""
    for name in list(os.environ):
        if name.startswith("TAGSIGHT_") and name != "TAGSIGHT_SHARED_DATA":
            monkeypatch.delenv(name)


class LiveServer:
    """uvicorn serving ``create_app(settings)`` in a thread, on a free loopback port."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def services(self):  # type: ignore[no-untyped-def]
        return self.server.config.loaded_app.app.state.services  # type: ignore[union-attr]

    @property
    def training_key(self) -> str:
        return str(self.services.keys.training_key)

    @property
    def prediction_key(self) -> str:
        return str(self.services.keys.prediction_key)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The test server did not start.")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def trainer(self) -> CustomVisionTrainingClient:
        credentials = ApiKeyCredentials(in_headers={"Training-key": self.training_key})
        return CustomVisionTrainingClient(self.url, credentials)

    def predictor(self) -> CustomVisionPredictionClient:
        credentials = ApiKeyCredentials(in_headers={"Prediction-key": self.prediction_key})
        return CustomVisionPredictionClient(self.url, credentials)


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    limits = overrides.pop("limits", None) or Limits(projects=10_000)
    return Settings(data_dir=data_dir, limits=limits, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(make_settings(tmp_path_factory.mktemp("tagsight-data"))).start()
    yield server
    server.stop()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start a dedicated server with its own settings (limits, keys, restarts)."""
    started: list[LiveServer] = []

    def start(data_dir: Path | None = None, **overrides: object) -> LiveServer:
        server = LiveServer(make_settings(data_dir or tmp_path / "data", **overrides)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def trainer(live_server: LiveServer) -> CustomVisionTrainingClient:
    return live_server.trainer()


@pytest.fixture(scope="session")
def predictor(live_server: LiveServer) -> CustomVisionPredictionClient:
    return live_server.predictor()
