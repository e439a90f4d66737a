"""Model export: an iteration's ONNX artifact → a zip for ONNX, OpenVINO, CoreML, TensorFlow or Docker.

``export(request, out)`` writes the zip in this process; ``export_in_subprocess`` does it in a child
Python, which is how the service runs it: converters (OpenVINO, TensorFlow, coremltools) are large,
keep memory after use and may crash outright, and none of that may reach the server. Formats are
one module each; ``list_exporters()`` and ``find_exporter()`` read the registry they fill.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from tagsight.vision.exporters import _coreml, _docker, _onnx, _openvino, _tensorflow  # noqa: F401 - register
from tagsight.vision.exporters._bundle import Bundle
from tagsight.vision.exporters._registry import (
    ExportCancelled,
    Exporter,
    ExportError,
    ExportRequest,
    ModelInfo,
    UnknownTargetError,
    find_exporter,
    list_exporters,
    missing_modules,
)

__all__ = [
    "ExportCancelled",
    "ExportError",
    "ExportRequest",
    "Exporter",
    "ModelInfo",
    "UnknownTargetError",
    "export",
    "export_in_subprocess",
    "find_exporter",
    "list_exporters",
    "missing_modules",
]

# The child prints its failure on this line so the parent can tell it from any other output.
_FAILURE = "TAGSIGHT-EXPORT-FAILED: "


def export(request: ExportRequest, out: Path) -> list[str]:
    """Write the bundle for ``request`` to ``out`` (a zip); returns the names inside it."""
    exporter = find_exporter(request.platform, request.flavor)
    missing = exporter.missing()
    if missing:
        hint = f" (pip install 'tagsight[{exporter.extra}]')" if exporter.extra else ""
        raise ExportError(f"{request.platform} export needs {', '.join(missing)}{hint}.")
    bundle = Bundle(out)
    try:
        exporter.write(request, bundle)
    except BaseException:
        bundle.close()
        out.unlink(missing_ok=True)
        raise
    bundle.close()
    return bundle.names


def export_in_subprocess(
    request: ExportRequest, out: Path, *, timeout_s: float, cancel: threading.Event | None = None
) -> None:
    """Run ``export`` in a child Python; raises ExportError with the reason when it fails.

    Setting ``cancel`` kills the child and raises ExportCancelled (a server that stops does not
    wait for a conversion it will redo at its next start).
    """
    command = [sys.executable, "-m", "tagsight.vision.exporters", str(out)]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + timeout_s
    payload: str | None = request.to_json()
    while True:
        try:
            _, stderr = process.communicate(payload, timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            payload = None  # sent with the first call
            cancelled = cancel is not None and cancel.is_set()
            if cancelled or time.monotonic() > deadline:
                process.kill()
                process.communicate()
                out.unlink(missing_ok=True)
                if cancelled:
                    raise ExportCancelled(f"The {request.platform} conversion was stopped.") from None
                raise ExportError(
                    f"The {request.platform} conversion took longer than {timeout_s:.0f} s."
                ) from None
    if process.returncode == 0 and out.exists():
        return
    out.unlink(missing_ok=True)
    for line in reversed(stderr.splitlines()):
        if line.startswith(_FAILURE):
            raise ExportError(line[len(_FAILURE) :])
    tail = " ".join(stderr.strip().splitlines()[-3:])[-500:]
    raise ExportError(f"The {request.platform} converter stopped (exit {process.returncode}): {tail}")
