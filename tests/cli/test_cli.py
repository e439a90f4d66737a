"""The command line: keys, rotation, and `tagsight serve` as a user runs it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from msrest.authentication import ApiKeyCredentials


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tagsight", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=True,
    )


def keys_in(output: str) -> dict[str, str]:
    lines = dict(line.split(":", 1) for line in output.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in lines.items()}


def test_keys_are_created_shown_and_rotated(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = keys_in(run_cli("keys", "--data-dir", str(data)).stdout)
    assert len(first["Training key"]) == 32 and first["Training key"] != first["Prediction key"]
    stored = json.loads((data / "keys.json").read_text())
    assert stored["training_key"] == first["Training key"]
    assert oct((data / "keys.json").stat().st_mode)[-3:] == "600"
    assert keys_in(run_cli("keys", "--data-dir", str(data)).stdout) == first
    rotated = keys_in(run_cli("keys", "--rotate", "--data-dir", str(data)).stdout)
    assert rotated["Training key"] != first["Training key"]
    assert rotated["Prediction key"] != first["Prediction key"]


def test_data_dir_from_the_environment(tmp_path: Path) -> None:
    data = tmp_path / "from-env"
    run_cli("keys", env={"TAGSIGHT_DATA_DIR": str(data)})
    assert (data / "keys.json").exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_prints_endpoint_and_keys_and_answers_the_sdk(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "served"
    process = subprocess.Popen(
        [sys.executable, "-m", "tagsight", "serve", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Uvicorn running" in line or "Application startup complete" in line:
                break
        shown = keys_in("".join(lines))
        assert shown["Endpoint"] == f"http://127.0.0.1:{port}"
        trainer = CustomVisionTrainingClient(
            shown["Endpoint"], ApiKeyCredentials(in_headers={"Training-key": shown["Training key"]})
        )
        assert trainer.create_project("from-cli").name == "from-cli"
        assert (data / "tagsight.db").exists()
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["keys", "--help"]])
def test_help(args: list[str]) -> None:
    assert "usage: tagsight" in run_cli(*args).stdout
