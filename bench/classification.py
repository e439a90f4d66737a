"""Classification end to end on hymenoptera: upload train/, train, classify every val/ image.

Prints one JSON object: val accuracy and training wall time per training type, prediction
latency p50/p95 (one client), throughput (8 concurrent clients) and the server's peak RSS.
The baseline, measured in the same run, is the issue's bar: a frozen EfficientNet-Lite0 (eager
PyTorch) with a logistic-regression head, features extracted in-process.

    python bench/classification.py [--advanced] [--budget-hours 1]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from _server import ServerProcess, shared_data, train_and_wait
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from msrest.authentication import ApiKeyCredentials

log = logging.getLogger("bench.classification")
CLASSES = ("ants", "bees")


def baseline(root: Path) -> dict[str, float]:
    """Frozen Lite0 + logistic regression, all in-process with eager PyTorch."""
    import torch

    from tagsight.vision.backbones import create_backbone, image_to_tensor
    from tagsight.vision.classifier import fit_linear_head, head_probabilities
    from tagsight.vision.imageio import decode_rgb

    start = time.perf_counter()
    model = create_backbone("efficientnet_lite0", pretrained=True, num_classes=0).eval()

    def features(split: str) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for label, name in enumerate(CLASSES):
            for path in sorted((root / split / name).iterdir()):
                with torch.inference_mode():
                    x = image_to_tensor(decode_rgb(path.read_bytes()), model.cfg).unsqueeze(0)
                    xs.append(model.forward_features(x)[0].numpy())
                ys.append(label)
        return np.array(xs), np.eye(len(CLASSES))[ys]

    xt, yt = features("train")
    weight, bias = fit_linear_head(xt, yt, multilabel=False)
    train_s = time.perf_counter() - start
    xv, yv = features("val")
    accuracy = float(
        np.mean(head_probabilities(xv, weight, bias, multilabel=False).argmax(1) == yv.argmax(1))
    )
    return {"val_accuracy": round(accuracy, 4), "train_seconds": round(train_s, 1)}


def evaluate(
    predictor: CustomVisionPredictionClient, project_id: str, name: str, val: list[tuple[str, bytes]]
) -> dict:
    latencies, correct = [], 0
    for label, data in val:
        start = time.perf_counter()
        result = predictor.classify_image_with_no_store(project_id, name, data)
        latencies.append((time.perf_counter() - start) * 1000)
        correct += result.predictions[0].tag_name == label
    q = statistics.quantiles(latencies, n=20)
    return {
        "val_accuracy": round(correct / len(val), 4),
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "latency_ms_p95": round(q[18], 1),
    }


def throughput(
    predictor: CustomVisionPredictionClient, project_id: str, name: str, val: list[tuple[str, bytes]]
) -> float:
    def one(item: tuple[str, bytes]) -> None:
        predictor.classify_image_with_no_store(project_id, name, item[1])

    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, val * 2))
    return 2 * len(val) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--advanced", action="store_true", help="also train Advanced")
    parser.add_argument("--budget-hours", type=int, default=1)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    root = shared_data() / "hymenoptera"
    val = [(name, p.read_bytes()) for name in CLASSES for p in sorted((root / "val" / name).iterdir())]
    report: dict[str, object] = {"bench": "classification", "unit": "see keys", "n_val": len(val)}
    if not args.skip_baseline:
        report["baseline"] = {
            "what": "frozen Lite0 + logistic regression, eager PyTorch, in-process",
            **baseline(root),
        }
        log.info("baseline %s", report["baseline"])

    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data")
        try:
            trainer = CustomVisionTrainingClient(
                server.url, ApiKeyCredentials(in_headers={"Training-key": server.training_key})
            )
            predictor = CustomVisionPredictionClient(
                server.url, ApiKeyCredentials(in_headers={"Prediction-key": server.prediction_key})
            )
            project = trainer.create_project("hymenoptera")
            for name in CLASSES:
                tag = trainer.create_tag(project.id, name)
                files = sorted((root / "train" / name).iterdir())
                for i in range(0, len(files), 64):
                    entries = [
                        ImageFileCreateEntry(name=f.name, contents=f.read_bytes()) for f in files[i : i + 64]
                    ]
                    trainer.create_images_from_files(
                        project.id, ImageFileCreateBatch(images=entries, tag_ids=[tag.id])
                    )
            report["train_images"] = trainer.get_tagged_image_count(project.id)
            kinds = [("Regular", {})]
            if args.advanced:
                kinds.append(
                    ("Advanced", {"training_type": "Advanced", "reserved_budget_in_hours": args.budget_hours})
                )
            for kind, kwargs in kinds:
                iteration_id, seconds = train_and_wait(trainer, project.id, **kwargs)
                trainer.publish_iteration(project.id, iteration_id, kind.lower(), "/local/bench")
                result = {
                    "train_seconds": round(seconds, 1),
                    **evaluate(predictor, project.id, kind.lower(), val),
                }
                result["throughput_8_clients_per_s"] = round(
                    throughput(predictor, project.id, kind.lower(), val), 1
                )
                report[kind.lower()] = result
                log.info("%s %s", kind, result)
            report["server_peak_rss_mb"] = round(server.peak_rss_mb(), 1)
        finally:
            server.stop()
    if "baseline" in report:
        base = report["baseline"]
        regular = report["regular"]
        report["ratio"] = {  # type: ignore[index]
            "regular_train_time_vs_baseline": round(regular["train_seconds"] / base["train_seconds"], 3),  # type: ignore[index]
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
