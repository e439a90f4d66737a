"""Start `tagsight serve` as a separate process (so its memory can be measured) for benchmarks."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger("bench")


class ServerProcess:
    def __init__(self, data_dir: Path, **env: str) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.data_dir = data_dir
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tagsight",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=sys.stderr,
            env={**os.environ, "TAGSIGHT_LOG_LEVEL": "warning", **env},
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/customvision/v3.3/training/domains").status_code == 401:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        keys = json.loads((data_dir / "keys.json").read_text())
        self.training_key = keys["training_key"]
        self.prediction_key = keys["prediction_key"]

    def peak_rss_mb(self) -> float:
        """Peak resident set size of the server process (VmHWM), in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def shared_data() -> Path:
    if "TAGSIGHT_SHARED_DATA" in os.environ:
        return Path(os.environ["TAGSIGHT_SHARED_DATA"])
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return Path("/work/shared/data")


def train_and_wait(trainer: Any, project_id: str, **kwargs: object) -> tuple[str, float]:
    """Start training, log each new phase of trainingMessage, return (iteration id, wall seconds)."""
    start = time.perf_counter()
    iteration = trainer.train_project(project_id, **kwargs)
    last = ""
    while iteration.status == "Training":
        time.sleep(0.5)
        iteration = trainer.get_iteration(project_id, iteration.id)
        message = iteration.additional_properties.get("trainingMessage", "")
        if message.split(" ")[:2] != last.split(" ")[:2]:
            log.info("%6.1f s  %s", time.perf_counter() - start, message)
        last = message
    if iteration.status != "Completed":
        raise SystemExit(f"training failed: {iteration.training_error_details}")
    return iteration.id, time.perf_counter() - start
