"""The zip every export is delivered as, and the files every bundle shares.

Every bundle carries ``labels.txt`` (one tag name per line, in output order), ``metadata.json``
(input layout, colour order, range, resize, outputs, tags), ``preprocess.py`` (the exact resize the
Prediction API applies, numpy and Pillow only), a ``README.md`` and a short sample script.
"""

from __future__ import annotations

import json
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

from tagsight.vision.exporters._registry import ExportRequest, ModelInfo


def template(name: str) -> str:
    """A file from ``templates/``: scripts that ship inside bundles (they run without Tagsight)."""
    return (
        resources.files("tagsight.vision.exporters").joinpath("templates", name).read_text(encoding="utf-8")
    )


class Bundle:
    """Files of one export, written straight into a zip (deflated; models compress a little)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        self.names: list[str] = []

    def add_bytes(self, name: str, data: bytes) -> None:
        self._zip.writestr(name, data)
        self.names.append(name)

    def add_text(self, name: str, text: str) -> None:
        self.add_bytes(name, text.encode("utf-8"))

    def add_file(self, name: str, path: Path) -> None:
        self._zip.write(path, name)
        self.names.append(name)

    def add_tree(self, prefix: str, root: Path) -> None:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                self.add_file(f"{prefix}/{path.relative_to(root).as_posix()}", path)

    def close(self) -> None:
        self._zip.close()


def describe(
    info: ModelInfo, request: ExportRequest, *, inputs: dict[str, Any], outputs: dict[str, Any]
) -> dict[str, Any]:
    """metadata.json: everything a caller needs to feed the model and read its answer."""
    return {
        "platform": request.platform,
        "flavor": request.flavor,
        "kind": info.kind,
        "classificationType": info.classification_type,
        "projectId": request.project_id,
        "iterationId": request.iteration_id,
        "iterationName": request.iteration_name,
        "backbone": info.metadata.get("backbone"),
        "input": {
            "colorOrder": "RGB",
            "range": [0, 255],
            "resize": f"squash (no crop) to {info.input_size}x{info.input_size}, bilinear",
            **inputs,
        },
        "outputs": outputs,
        "labels": [t["name"] for t in request.tags],
        "tags": list(request.tags),
    }


def standard_outputs(info: ModelInfo, names: dict[str, str] | None = None) -> dict[str, Any]:
    """The outputs of the Tagsight graph, under the names the converted model gives them."""
    names = names or {}
    if info.detection:
        return {
            names.get("boxes", "boxes"): "float32 (N, 200, 4): left, top, width, height, normalised 0..1",
            names.get("scores", "scores"): "float32 (N, 200): probability, descending; 0 for empty slots",
            names.get("classes", "classes"): "int64 (N, 200): index into labels.txt",
        }
    activation = "sigmoid per tag" if info.classification_type == "Multilabel" else "softmax over tags"
    return {names.get("probabilities", "probabilities"): f"float32 (N, tags): probabilities ({activation})"}


def add_common(
    bundle: Bundle,
    info: ModelInfo,
    request: ExportRequest,
    *,
    metadata: dict[str, Any],
    readme: str,
    sample: str | None,
    model_dir: str = "",
) -> None:
    """The shared files; ``model_dir`` puts the model's companions beside it (e.g. ``app/``)."""
    at = f"{model_dir.rstrip('/')}/" if model_dir else ""
    bundle.add_text(f"{at}labels.txt", "".join(f"{t['name']}\n" for t in request.tags))
    bundle.add_text(f"{at}metadata.json", json.dumps(metadata, indent=2) + "\n")
    bundle.add_text(f"{at}preprocess.py", template("preprocess.py"))
    bundle.add_text(f"{at}postprocess.py", template("postprocess.py"))
    if sample is not None:
        bundle.add_text("sample.py", sample)
    bundle.add_text("README.md", readme)


def readme(title: str, info: ModelInfo, body: str) -> str:
    """A bundle's README: what the model is, how to feed it, then the format's own notes."""
    what = "object detector" if info.detection else f"{info.classification_type or 'Multiclass'} classifier"
    return (
        f"# {title}\n\n"
        f"A Tagsight {what} exported for this platform. `labels.txt` names the outputs (one tag per line,\n"
        f"in output order) and `metadata.json` describes the input and outputs.\n\n"
        f"## Input\n\n"
        f"RGB pixels, 0..255, the whole photo squashed (not cropped) to {info.input_size}x{info.input_size}\n"
        f"with bilinear resizing; normalisation is inside the model. `preprocess.py` does exactly what the\n"
        f"Prediction API does (EXIF orientation, transparency on white, the resize), so answers match.\n\n"
        f"{body.strip()}\n"
    )
