"""Renaming a trained model's outputs: the label list in its metadata, weights untouched."""

from __future__ import annotations

import json
from collections.abc import Sequence

import onnx

__all__ = ["model_labels", "relabel_model"]


def model_labels(model: bytes) -> list[str]:
    """The ``labels`` metadata of an ONNX artifact (output order), empty when it has none."""
    proto = onnx.load_from_string(model)
    for entry in proto.metadata_props:
        if entry.key == "labels":
            return list(json.loads(entry.value))
    return []


def relabel_model(model: bytes, labels: Sequence[str]) -> bytes:
    """The same ONNX model with its ``labels`` metadata replaced by ``labels`` (same length).

    Artifacts name their outputs by tag id, so a copied project, whose tags have new ids, needs
    its models to say so.
    """
    proto = onnx.load_from_string(model)
    for entry in proto.metadata_props:
        if entry.key == "labels":
            old = json.loads(entry.value)
            if len(old) != len(labels):
                raise ValueError(f"The model has {len(old)} outputs, not {len(labels)}.")
            entry.value = json.dumps(list(labels))
            data: bytes = proto.SerializeToString()
            return data
    raise ValueError("The model has no 'labels' metadata to replace.")
