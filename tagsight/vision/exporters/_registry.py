"""Export formats register here, after the backbone registry: one module per platform, one table.

An exporter turns an iteration's ONNX artifact into a bundle (the files of a zip). It takes plain
arguments (paths, names) and knows nothing of HTTP or the database.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

__all__ = [
    "ExportCancelled",
    "ExportError",
    "ExportRequest",
    "Exporter",
    "ModelInfo",
    "UnknownTargetError",
    "find_exporter",
    "list_exporters",
    "missing_modules",
    "register_exporter",
]


class ExportError(Exception):
    """A conversion failed in a way worth telling the user (the message says why)."""


class ExportCancelled(Exception):
    """The conversion was stopped on purpose (the server is shutting down)."""


class UnknownTargetError(KeyError, ValueError):
    """No exporter for this platform and flavor."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class ExportRequest:
    """What to export: the ONNX artifact, the tags behind its outputs, and the target format."""

    model: Path
    tags: tuple[dict[str, str], ...]  # {"id", "name", "type"} by model output index
    platform: str
    flavor: str | None = None
    project_id: str = ""
    iteration_id: str = ""
    iteration_name: str = ""

    def to_json(self) -> str:
        data = {**self.__dict__, "model": str(self.model), "tags": list(self.tags)}
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ExportRequest:
        data = json.loads(text)
        return cls(**{**data, "model": Path(data["model"]), "tags": tuple(data["tags"])})


@dataclass(frozen=True)
class ModelInfo:
    """What the artifact's metadata says about its input and outputs (see vision/export.py)."""

    kind: str  # "classification" | "detection"
    input_size: int
    classification_type: str | None
    outputs: tuple[str, ...]
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, model: onnx.ModelProto) -> ModelInfo:
        meta = {p.key: p.value for p in model.metadata_props}
        return cls(
            kind=meta.get("kind", "classification"),
            input_size=int(meta["input_size"]),
            classification_type=meta.get("classification_type"),
            outputs=tuple(o.name for o in model.graph.output),
            metadata=meta,
        )

    @property
    def detection(self) -> bool:
        return self.kind == "detection"


Writer = Callable[[ExportRequest, Any], None]  # (request, Bundle) → adds files to the bundle


@dataclass(frozen=True)
class Exporter:
    platform: str
    flavors: tuple[str | None, ...]  # None: the caller named no flavor
    write: Writer
    # Modules the converter imports, and the pip extra that installs them when they are missing.
    requires: tuple[str, ...] = ()
    extra: str | None = None

    def missing(self) -> list[str]:
        return missing_modules(self.requires)


_EXPORTERS: dict[str, Exporter] = {}


def register_exporter(
    platform: str,
    flavors: tuple[str | None, ...],
    *,
    requires: tuple[str, ...] = (),
    extra: str | None = None,
) -> Callable[[Writer], Writer]:
    def decorate(write: Writer) -> Writer:
        if platform in _EXPORTERS:
            raise ValueError(f"Exporter for {platform} registered twice")
        _EXPORTERS[platform] = Exporter(platform, flavors, write, requires, extra)
        return write

    return decorate


def list_exporters() -> list[Exporter]:
    return list(_EXPORTERS.values())


def find_exporter(platform: str, flavor: str | None) -> Exporter:
    exporter = _EXPORTERS.get(platform)
    if exporter is None:
        raise UnknownTargetError(
            f"Unknown export platform '{platform}'; expected one of {', '.join(sorted(_EXPORTERS))}."
        )
    if flavor not in exporter.flavors:
        named = ", ".join(f for f in exporter.flavors if f) or "none"
        raise UnknownTargetError(f"Platform {platform} has no flavor '{flavor}' (flavors: {named}).")
    return exporter


def missing_modules(modules: tuple[str, ...]) -> list[str]:
    """Modules that cannot be imported here; found without importing them (they are large)."""
    return [m for m in modules if importlib.util.find_spec(m) is None]
