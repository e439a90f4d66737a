"""Waiting for exports through the SDK, and running an exported Docker bundle's server without Docker."""

from __future__ import annotations

import site
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx


def wait_export(
    trainer: Any, project_id: str, iteration_id: str, platform: str, flavor: str | None, timeout: float = 600
) -> Any:
    """Poll get_exports, as Azure's samples do, until the export leaves Exporting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for export in trainer.get_exports(project_id, iteration_id):
            if export.platform == platform and export.flavor == flavor and export.status != "Exporting":
                return export
        time.sleep(0.3)
    raise AssertionError(f"export {platform}/{flavor} still running after {timeout} s")


def bundle_venv(path: Path) -> Path:
    """A fresh virtual environment for a bundle, its packages taken from this one rather than PyPI.

    A ``.pth`` file puts this environment's site-packages on its path (what ``--system-site-packages``
    does for a system Python), so ``pip install -r requirements.txt`` finds onnxruntime, numpy and
    Pillow already satisfied and downloads nothing; it still checks that the requirements resolve.
    """
    python = path / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True)
        parents = [p for p in site.getsitepackages() if p.endswith("site-packages")]
        target = next((path / "lib").glob("python*/site-packages"))
        (target / "tagsight-parent.pth").write_text("".join(f"{p}\n" for p in parents))
    return python


@contextmanager
def run_bundle_server(folder: Path, venv: Path) -> Iterator[str]:
    """Install the bundle's requirements in ``venv``, start ``app/server.py``, yield its URL."""
    python = bundle_venv(venv)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-input", "-r", str(folder / "requirements.txt")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [str(python), "server.py", "--host", "127.0.0.1", "--port", str(port), "--threads", "1"],
        cwd=folder / "app",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"bundle server did not start: {process.stderr.read() if process.stderr else ''}"
                )
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()
