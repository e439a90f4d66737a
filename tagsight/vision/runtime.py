"""Inference on exported ONNX models with onnxruntime: numpy and Pillow, never torch."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import onnxruntime as ort
from PIL import Image

from tagsight.vision.pixels import model_batch


class OnnxModel:
    """A loaded artifact. ``run`` is thread-safe (onnxruntime sessions are), so one is shared."""

    def __init__(self, model: bytes, *, threads: int = 0) -> None:
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.metadata = dict(meta)
        self.input_size = int(meta["input_size"])
        self.labels: list[str] = json.loads(meta.get("labels", "[]"))
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, images: Sequence[Image.Image]) -> dict[str, np.ndarray]:
        """Outputs by name for a batch of RGB images (any size; resized as in training)."""
        return self.run_pixels(model_batch(images, self.input_size))

    def run_pixels(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs by name for uint8 (N, S, S, 3) pixels already at the input size."""
        outputs = self.session.run(self.output_names, {"image": pixels})
        return dict(zip(self.output_names, outputs, strict=True))

    def classify(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(N, C) probabilities in the order of ``labels``."""
        return self.run(images)["probabilities"]
