"""Object detection end to end on the raccoon set: upload train.txt, train, detect every val.txt image.

Prints one JSON object: mAP@0.5 and mAP@0.5:0.95 (COCO-style, computed by pycocotools and, as a
cross-check, by Tagsight's own AP code), training wall time per training type, prediction
latency p50/p95 (one client), throughput (8 concurrent clients) and the server's peak RSS.

    python bench/detection.py [--advanced [--skip-regular]] [--budget-hours 1]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _server import ServerProcess, shared_data, train_and_wait
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    Region,
)
from msrest.authentication import ApiKeyCredentials

from tagsight.datasets.voc import read_voc
from tagsight.vision.metrics import coco_maps

log = logging.getLogger("bench.detection")
GENERAL_DETECTION = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"
Box = tuple[float, float, float, float]


def truth_boxes(root: Path, name: str) -> list[Box]:
    ann = read_voc(root / "annotations" / f"{Path(name).stem}.xml")
    return [(o.left, o.top, o.right - o.left, o.bottom - o.top) for o in ann.objects]


def coco_map(truth: list[list[Box]], found: list[list[tuple[float, Box]]]) -> dict[str, float]:
    """mAP@0.5 and mAP@0.5:0.95 by pycocotools (COCO's defaults, 100 detections per image), on a
    1000x1000 canvas since boxes are normalised."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    scale = 1000.0
    images = [{"id": i, "width": 1000, "height": 1000} for i in range(len(truth))]
    annotations = [
        {
            "id": len(images) * 10 + k * 100 + j,
            "image_id": k,
            "category_id": 1,
            "iscrowd": 0,
            "bbox": [v * scale for v in box],
            "area": box[2] * box[3] * scale * scale,
        }
        for k, boxes in enumerate(truth)
        for j, box in enumerate(boxes)
    ]
    gt = COCO()
    gt.dataset = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "raccoon"}]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dets = gt.loadRes(
            [
                {"image_id": k, "category_id": 1, "bbox": [v * scale for v in box], "score": s}
                for k, items in enumerate(found)
                for s, box in items
            ]
        )
        evaluation = COCOeval(gt, dets, "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return {"map_50_95": round(float(evaluation.stats[0]), 4), "map_50": round(float(evaluation.stats[1]), 4)}


def own_map(truth: list[list[Box]], found: list[list[tuple[float, Box]]]) -> dict[str, float]:
    map_50, map_50_95 = coco_maps(
        [[(0, b) for b in boxes] for boxes in truth], [[(0, s, b) for s, b in items] for items in found], 1
    )
    return {"map_50": round(map_50, 4), "map_50_95": round(map_50_95, 4)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--advanced", action="store_true")
    parser.add_argument("--budget-hours", type=int, default=1)
    parser.add_argument("--skip-regular", action="store_true", help="with --advanced: train Advanced only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    root = shared_data() / "raccoon"
    train = (root / "train.txt").read_text().split()
    val = (root / "val.txt").read_text().split()
    val_bytes = [(root / "images" / n).read_bytes() for n in val]
    truth = [truth_boxes(root, n) for n in val]
    report: dict[str, object] = {
        "bench": "detection",
        "unit": "see keys",
        "n_train": len(train),
        "n_val": len(val),
    }

    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data")
        try:
            trainer = CustomVisionTrainingClient(
                server.url, ApiKeyCredentials(in_headers={"Training-key": server.training_key})
            )
            predictor = CustomVisionPredictionClient(
                server.url, ApiKeyCredentials(in_headers={"Prediction-key": server.prediction_key})
            )
            project = trainer.create_project("raccoons", domain_id=GENERAL_DETECTION)
            tag = trainer.create_tag(project.id, "raccoon")
            for i in range(0, len(train), 64):
                entries = [
                    ImageFileCreateEntry(
                        name=n,
                        contents=(root / "images" / n).read_bytes(),
                        regions=[
                            Region(tag_id=tag.id, left=b[0], top=b[1], width=b[2], height=b[3])
                            for b in truth_boxes(root, n)
                        ],
                    )
                    for n in train[i : i + 64]
                ]
                trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
            kinds: list[tuple[str, dict[str, object]]] = [] if args.skip_regular else [("Regular", {})]
            if args.advanced:
                kinds.append(
                    ("Advanced", {"training_type": "Advanced", "reserved_budget_in_hours": args.budget_hours})
                )
            for kind, kwargs in kinds:
                iteration_id, seconds = train_and_wait(trainer, project.id, **kwargs)
                name = kind.lower()
                trainer.publish_iteration(project.id, iteration_id, name, "/local/bench")
                latencies, found = [], []
                for data in val_bytes:
                    start = time.perf_counter()
                    result = predictor.detect_image_with_no_store(project.id, name, data)
                    latencies.append((time.perf_counter() - start) * 1000)
                    found.append(
                        [
                            (
                                p.probability,
                                (
                                    p.bounding_box.left,
                                    p.bounding_box.top,
                                    p.bounding_box.width,
                                    p.bounding_box.height,
                                ),
                            )
                            for p in result.predictions
                        ]
                    )
                start = time.perf_counter()
                with ThreadPoolExecutor(8) as pool:
                    list(
                        pool.map(
                            lambda d, name=name: predictor.detect_image_with_no_store(project.id, name, d),
                            val_bytes * 4,
                        )
                    )
                throughput = 4 * len(val_bytes) / (time.perf_counter() - start)
                perf = trainer.get_iteration_performance(
                    project.id, iteration_id, threshold=0.5, overlap_threshold=0.5
                )
                report[name] = {
                    "train_seconds": round(seconds, 1),
                    "val_pycocotools": coco_map(truth, found),
                    "val_own_ap_code": own_map(truth, found),
                    "reported_holdout_map_50": round(perf.average_precision, 4),
                    "latency_ms_p50": round(statistics.median(latencies), 1),
                    "latency_ms_p95": round(statistics.quantiles(latencies, n=20)[18], 1),
                    "throughput_8_clients_per_s": round(throughput, 1),
                }
                log.info("%s %s", kind, report[name])
            report["server_peak_rss_mb"] = round(server.peak_rss_mb(), 1)
        finally:
            server.stop()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
