"""Regular against Advanced detection over several seeds or folds, on the raccoons, without the server.

Forty validation images make one training run's mAP noisy (the seed picks the held-out fifth and
the augmentations; between seeds Regular's val mAP@0.5 moved by 0.02-0.05). By default this trains
both types per seed on train.txt and scores each shipped ONNX model on val.txt. With ``--folds K``
it pools all 200 images instead, trains on K-1 folds, scores the K-th, and reports mAP over every
image's out-of-fold detections: five times the scored images, for five times the training.

Prints one JSON object (per run and averaged: mAP@0.5, mAP@0.5:0.95 and training seconds, and
Advanced minus Regular per seed or fold); ``--out`` also appends each run as a JSON line as soon as
it ends, so an interrupted run keeps what it measured.

    python bench/detection_seeds.py [--seeds 0,1,2] [--folds 5] [--device cuda] [--budget-s 3600]
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
from tagsight.vision.metrics import Box, coco_maps
from tagsight.vision.runtime import OnnxModel
from tagsight.vision.train_detector import (
    DetectionSample,
    DetectorTrainConfig,
    advanced_config,
    train_detector,
)

log = logging.getLogger("bench.detection_seeds")
Truth = list[tuple[int, Box]]
Found = list[tuple[int, float, Box]]


def load_sample(root: Path, name: str) -> DetectionSample:
    data = (root / "images" / name).read_bytes()
    objects = read_voc(root / "annotations" / f"{Path(name).stem}.xml").objects
    boxes = np.array([[o.left, o.top, o.right, o.bottom] for o in objects], dtype=np.float32).reshape(-1, 4)
    labels = np.zeros(len(boxes), dtype=np.int64)
    return DetectionSample(hashlib.sha256(data).hexdigest(), lambda: data, boxes, labels)


def detect(onnx: bytes, samples: list[DetectionSample]) -> tuple[list[Truth], list[Found]]:
    """Each sample's true boxes and the shipped model's detections, as (l, t, w, h)."""
    model = OnnxModel(onnx)
    truth, found = [], []
    for sample in samples:
        out = model.run([decode_rgb(sample.load(), at_least=model.input_size)])
        found.append(
            [
                (0, float(s), tuple(float(v) for v in b))
                for b, s in zip(out["boxes"][0], out["scores"][0], strict=True)
                if s > 0.01
            ]
        )
        truth.append([(0, (x1, y1, x2 - x1, y2 - y1)) for x1, y1, x2, y2 in sample.boxes.tolist()])
    return truth, found  # type: ignore[return-value]


def maps(truth: list[Truth], found: list[Found]) -> dict[str, float]:
    map_50, map_50_95 = coco_maps(truth, found, 1)
    return {"map_50": round(map_50, 4), "map_50_95": round(map_50_95, 4)}


def splits(
    root: Path, samples: dict[str, DetectionSample], folds: int, seed: int
) -> list[tuple[str, list[str], list[str]]]:
    """(name, train, scored) file names: the data set's own split, or ``folds`` folds of all images."""
    if folds <= 1:
        return [("val", (root / "train.txt").read_text().split(), (root / "val.txt").read_text().split())]
    names = sorted(samples)
    order = np.random.default_rng(1000 + seed).permutation(len(names))
    parts = [sorted(names[i] for i in order[f::folds]) for f in range(folds)]
    rest = [[n for g, part in enumerate(parts) if g != f for n in part] for f in range(folds)]
    return [(f"fold{f}", rest[f], parts[f]) for f in range(folds)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--folds", type=int, default=0, help="K-fold over all images; 0: train.txt/val.txt")
    parser.add_argument("--budget-s", type=float, default=3600.0, help="Advanced's wall-clock budget")
    parser.add_argument("--device", default=None, help="where the head trains (default: CUDA when present)")
    parser.add_argument("--kinds", default="regular,advanced", help="training types to run")
    parser.add_argument("--splits", default=None, help="only these splits, e.g. fold2,fold3")
    parser.add_argument("--out", type=Path, default=None, help="append each run here as a JSON line")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    root = shared_data() / "raccoon"
    names = sorted(p.name for p in (root / "images").glob("*.jpg"))
    samples = {n: load_sample(root, n) for n in names}
    runs: list[dict[str, object]] = []
    pooled: dict[tuple[int, str], tuple[list[Truth], list[Found]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = BlobFeatureCache(LocalBlobStore(Path(tmp)))
        for seed in [int(s) for s in args.seeds.split(",")]:
            for split, train_names, scored_names in splits(root, samples, args.folds, seed):
                if args.splits and split not in args.splits.split(","):
                    continue
                regular = DetectorTrainConfig(seed=seed, device=args.device)
                configs = {"regular": regular, "advanced": advanced_config(regular, args.budget_s)}
                for kind in args.kinds.split(","):
                    cfg = configs[kind]
                    started = time.monotonic()
                    train = [samples[n] for n in train_names]
                    trained = train_detector(train, ["raccoon"], cfg, cache=cache, progress=lambda f, m: None)
                    seconds = round(time.monotonic() - started, 1)
                    truth, found = detect(trained.onnx, [samples[n] for n in scored_names])
                    run = {"seed": seed, "split": split, "kind": kind, "train_seconds": seconds}
                    run.update(maps(truth, found))
                    log.info("%s", run)
                    runs.append(run)
                    if args.out is not None:
                        with args.out.open("a") as out:
                            out.write(json.dumps(run) + "\n")
                    so_far = pooled.setdefault((seed, kind), ([], []))
                    so_far[0].extend(truth)
                    so_far[1].extend(found)
    print(json.dumps(report(runs, pooled, args.folds, len(names))))


def report(
    runs: list[dict[str, object]],
    pooled: dict[tuple[int, str], tuple[list[Truth], list[Found]]],
    folds: int,
    n_images: int,
) -> dict[str, object]:
    result: dict[str, object] = {"bench": "detection_seeds", "images": n_images, "folds": folds, "runs": runs}
    for kind in ("regular", "advanced"):
        mine = [r for r in runs if r["kind"] == kind]
        if not mine:
            continue
        result[kind] = {
            key: round(statistics.mean(float(r[key]) for r in mine), 4)  # type: ignore[arg-type]
            for key in ("map_50", "map_50_95", "train_seconds")
        }
    regular = {(r["seed"], r["split"]): float(r["map_50"]) for r in runs if r["kind"] == "regular"}  # type: ignore[arg-type]
    result["advanced_minus_regular_map_50"] = [
        round(float(r["map_50"]) - regular[r["seed"], r["split"]], 4)  # type: ignore[arg-type]
        for r in runs
        if r["kind"] == "advanced" and (r["seed"], r["split"]) in regular
    ]
    if folds > 1:  # every image scored once per seed, by the model that did not train on it
        result["pooled"] = {f"seed{seed}_{kind}": maps(*both) for (seed, kind), both in pooled.items()}
    return result


if __name__ == "__main__":
    main()
