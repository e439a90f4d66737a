"""Regular against Advanced detection over several seeds, on the raccoon split, without the server.

Forty validation images make one training run's mAP noisy (the seed picks the held-out fifth and
the augmentations; between seeds Regular's val mAP@0.5 moved by 0.02-0.05), so this trains both
types per seed on train.txt, scores each shipped ONNX model on val.txt, and prints one JSON object:
per run and averaged, mAP@0.5 and mAP@0.5:0.95 and training seconds, and the per-seed difference
Advanced minus Regular.

    python bench/detection_seeds.py [--seeds 0,1,2] [--budget-s 3600]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _server import shared_data

from tagsight.datasets.voc import read_voc
from tagsight.store.blobs import LocalBlobStore
from tagsight.store.feature_cache import BlobFeatureCache
from tagsight.vision.imageio import decode_rgb
from tagsight.vision.metrics import coco_maps
from tagsight.vision.runtime import OnnxModel
from tagsight.vision.train_detector import (
    DetectionSample,
    DetectorTrainConfig,
    advanced_config,
    train_detector,
)

log = logging.getLogger("bench.detection_seeds")


def load_sample(root: Path, name: str) -> DetectionSample:
    data = (root / "images" / name).read_bytes()
    objects = read_voc(root / "annotations" / f"{Path(name).stem}.xml").objects
    boxes = np.array([[o.left, o.top, o.right, o.bottom] for o in objects], dtype=np.float32).reshape(-1, 4)
    labels = np.zeros(len(boxes), dtype=np.int64)
    return DetectionSample(hashlib.sha256(data).hexdigest(), lambda: data, boxes, labels)


def val_maps(onnx: bytes, val: list[DetectionSample]) -> dict[str, float]:
    model = OnnxModel(onnx)
    truth, found = [], []
    for sample in val:
        out = model.run([decode_rgb(sample.load(), at_least=model.input_size)])
        found.append(
            [
                (0, float(s), tuple(float(v) for v in b))
                for b, s in zip(out["boxes"][0], out["scores"][0], strict=True)
                if s > 0.01
            ]
        )
        truth.append([(0, (x1, y1, x2 - x1, y2 - y1)) for x1, y1, x2, y2 in sample.boxes.tolist()])
    map_50, map_50_95 = coco_maps(truth, found, 1)
    return {"map_50": round(map_50, 4), "map_50_95": round(map_50_95, 4)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--budget-s", type=float, default=3600.0, help="Advanced's wall-clock budget")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    root = shared_data() / "raccoon"
    train = [load_sample(root, n) for n in (root / "train.txt").read_text().split()]
    val = [load_sample(root, n) for n in (root / "val.txt").read_text().split()]
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = BlobFeatureCache(LocalBlobStore(Path(tmp)))
        for seed in [int(s) for s in args.seeds.split(",")]:
            regular = DetectorTrainConfig(seed=seed)
            configs = {"regular": regular, "advanced": advanced_config(regular, args.budget_s)}
            for kind, cfg in configs.items():
                started = time.monotonic()
                trained = train_detector(train, ["raccoon"], cfg, cache=cache, progress=lambda f, m: None)
                run = {"seed": seed, "kind": kind, "train_seconds": round(time.monotonic() - started, 1)}
                run.update(val_maps(trained.onnx, val))
                log.info("%s", run)
                runs.append(run)
    report: dict[str, object] = {"bench": "detection_seeds", "n_train": len(train), "n_val": len(val)}
    report["runs"] = runs
    for kind in ("regular", "advanced"):
        mine = [r for r in runs if r["kind"] == kind]
        report[kind] = {
            key: round(statistics.mean(float(r[key]) for r in mine), 4)  # type: ignore[arg-type]
            for key in ("map_50", "map_50_95", "train_seconds")
        }
    report["advanced_minus_regular_map_50"] = [
        round(float(a["map_50"]) - float(r["map_50"]), 4)  # type: ignore[arg-type]
        for r, a in zip(runs[::2], runs[1::2], strict=True)
    ]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
