"""Advanced classification (fine-tuning) in-process on a chosen device, without the server.

For a GPU check where the server's dependencies are not installed: needs only torch, onnxruntime,
Pillow and the backbone wheel. Trains on ``train/`` of a folder-per-tag data set (hymenoptera's
layout), scores the exported ONNX model on ``val/`` and prints one JSON object.

    python bench/classification_device.py [--data DIR] [--device cuda] [--backbone efficientnet_lite0]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _server import shared_data
from PIL import Image

from tagsight.store.blobs import LocalBlobStore
from tagsight.store.feature_cache import BlobFeatureCache
from tagsight.vision.finetune import FinetuneConfig, fixres_size, train_advanced
from tagsight.vision.runtime import OnnxModel
from tagsight.vision.train_classifier import TrainingImage


def load(folder: Path, labels: list[str]) -> list[tuple[TrainingImage, int]]:
    images = []
    for index, tag in enumerate(labels):
        for path in sorted((folder / tag).glob("*.jp*g")):
            data = path.read_bytes()
            images.append((TrainingImage(hashlib.sha256(data).hexdigest(), lambda d=data: d), index))
    return images


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=None, help="default: the shared hymenoptera set")
    parser.add_argument("--device", default=None, help="default: CUDA when present")
    parser.add_argument("--backbone", default="efficientnet_lite0")
    args = parser.parse_args()
    root = args.data or shared_data() / "hymenoptera"
    labels = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    train, val = load(root / "train", labels), load(root / "val", labels)
    targets = np.zeros((len(train), len(labels)), dtype=np.float32)
    targets[np.arange(len(train)), [tag for _, tag in train]] = 1.0
    size = fixres_size(args.backbone)  # as the runner's Advanced
    cfg = FinetuneConfig(backbone=args.backbone, input_size=size, budget_s=3600, device=args.device)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        trained = train_advanced(
            [image for image, _ in train],
            targets,
            labels,
            cfg,
            cache=BlobFeatureCache(LocalBlobStore(Path(tmp))),
            progress=lambda f, m: None,
        )
        seconds = time.monotonic() - started
    model = OnnxModel(trained.onnx)
    right = sum(
        int(model.classify([Image.open(io.BytesIO(image.load())).convert("RGB")])[0].argmax() == tag)
        for image, tag in val
    )
    report = {
        "bench": "classification_device",
        "cuda_available": torch.cuda.is_available(),
        "backbone": args.backbone,
        "input_size": size,
        "n_train": len(train),
        "n_val": len(val),
        "train_seconds": round(seconds, 1),
        "val_accuracy": round(right / len(val), 4),
        "evaluation": trained.evaluation,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
