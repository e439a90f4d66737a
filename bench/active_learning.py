"""Active learning: does labelling the images the model is least sure of first save labels?

Simulates a labelling session through the official SDK against a real server. All training images
are uploaded untagged; the same few per tag (``--start``) are labelled; then, round after round,
the project is trained (Regular), scored on the val split, and ``--step`` more images get their
true labels, chosen either

- by **uncertainty**: the first page of ``query_suggested_images`` on the latest iteration,
  sorted ``UncertaintyDescending`` (the smart labeler's queue), or
- at **random** (the baseline): a seeded shuffle of the images left,

until every training image is labelled. Classification runs on hymenoptera (val accuracy);
detection on the raccoon set (val mAP@0.5, our COCO-style AP), with a smaller input and fewer
epochs than the defaults so that dozens of detectors train in reasonable time (``--det-size``,
``--det-epochs``).

Prints one JSON object: both curves, the score random sampling reaches with every label, and
how many labels uncertainty sampling needs to reach it (``ratio`` = that / all labels). Writes a
plot per task to ``bench/out/active_learning_<task>.png``.

    python bench/active_learning.py [--task classification|detection|both] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _server import ServerProcess, shared_data, train_and_wait
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    ImageRegionCreateEntry,
    ImageTagCreateEntry,
    SuggestedTagAndRegionQueryToken,
)
from msrest.authentication import ApiKeyCredentials

from tagsight.datasets.voc import read_voc
from tagsight.vision.metrics import detection_figures

log = logging.getLogger("bench.active_learning")
GENERAL_DETECTION = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"
OUT = Path(__file__).resolve().parent / "out"
Box = tuple[float, float, float, float]


@dataclass
class Item:
    name: str
    data: bytes
    truth: Any  # the tag name (classification) or the list of boxes (detection)


@dataclass
class Task:
    name: str
    metric: str
    domain_id: str | None
    tags: list[str]
    pool: list[Item]
    val: list[Item]
    first_tag: Callable[[Item], str]  # which tag an item counts for when picking the start set


def hymenoptera() -> Task:
    root = shared_data() / "hymenoptera"

    def items(split: str) -> list[Item]:
        return [
            Item(p.name, p.read_bytes(), tag)
            for tag, folder in (("ant", "ants"), ("bee", "bees"))
            for p in sorted((root / split / folder).glob("*.jpg"))
        ]

    return Task(
        "classification",
        "val accuracy",
        None,
        ["ant", "bee"],
        items("train"),
        items("val"),
        lambda i: i.truth,
    )


def raccoons() -> Task:
    root = shared_data() / "raccoon"

    def items(split: str) -> list[Item]:
        found = []
        for name in (root / f"{split}.txt").read_text().split():
            objects = read_voc(root / "annotations" / f"{Path(name).stem}.xml").objects
            boxes = [(o.left, o.top, o.right - o.left, o.bottom - o.top) for o in objects]
            found.append(Item(name, (root / "images" / name).read_bytes(), boxes))
        return found

    return Task(
        "detection",
        "val mAP@0.5",
        GENERAL_DETECTION,
        ["raccoon"],
        items("train"),
        items("val"),
        lambda i: "raccoon",
    )


class Session:
    """One simulated labeller on one project: uploads the pool untagged, then labels on request."""

    def __init__(self, trainer: Any, task: Task, title: str) -> None:
        self.trainer, self.task = trainer, task
        kwargs = {"domain_id": task.domain_id} if task.domain_id else {}
        self.project = trainer.create_project(title, **kwargs)
        self.tag_ids = {name: trainer.create_tag(self.project.id, name).id for name in task.tags}
        self.items: dict[str, Item] = {}
        for start in range(0, len(task.pool), 64):
            chunk = task.pool[start : start + 64]
            entries = [ImageFileCreateEntry(name=i.name, contents=i.data) for i in chunk]
            summary = trainer.create_images_from_files(self.project.id, ImageFileCreateBatch(images=entries))
            for item, result in zip(chunk, summary.images, strict=True):
                assert result.status in ("OK", "OKDuplicate"), result.status
                self.items.setdefault(result.image.id, item)  # a file twice in the set is one image
        self.labelled: set[str] = set()

    def by_name(self, names: set[str]) -> list[str]:
        return [i for i, item in self.items.items() if item.name in names]

    def label(self, image_ids: list[str]) -> None:
        if self.task.name == "classification":
            pairs = [
                ImageTagCreateEntry(image_id=i, tag_id=self.tag_ids[self.items[i].truth]) for i in image_ids
            ]
            for start in range(0, len(pairs), 128):
                self.trainer.create_image_tags(self.project.id, tags=pairs[start : start + 128])
        else:
            tag = self.tag_ids["raccoon"]
            regions = [
                ImageRegionCreateEntry(image_id=i, tag_id=tag, left=b[0], top=b[1], width=b[2], height=b[3])
                for i in image_ids
                for b in self.items[i].truth
            ]
            for start in range(0, len(regions), 64):
                self.trainer.create_image_regions(self.project.id, regions=regions[start : start + 64])
        self.labelled.update(image_ids)

    def unlabelled(self) -> list[str]:
        return [i for i in self.items if i not in self.labelled]

    def score(self, iteration_id: str) -> float:
        found = []
        for item in self.task.val:
            result = self.trainer.quick_test_image(
                self.project.id, item.data, iteration_id=iteration_id, store=False
            )
            found.append(result.predictions)
        if self.task.name == "classification":
            right = sum(p[0].tag_name == item.truth for p, item in zip(found, self.task.val, strict=True))
            return right / len(self.task.val)
        truth = [[(0, b) for b in item.truth] for item in self.task.val]
        detections = [
            [
                (
                    0,
                    p.probability,
                    (p.bounding_box.left, p.bounding_box.top, p.bounding_box.width, p.bounding_box.height),
                )
                for p in preds
            ]
            for preds in found
        ]
        return detection_figures(truth, detections, 1, threshold=0.5, iou_threshold=0.5)[0].average_precision


def start_set(task: Task, per_tag: int, seed: int) -> set[str]:
    rng = random.Random(seed)
    chosen: set[str] = set()
    for tag in task.tags:
        names = [i.name for i in task.pool if task.first_tag(i) == tag]
        chosen.update(rng.sample(names, per_tag))
    return chosen


def simulate(
    trainer: Any, task: Task, strategy: str, seed: int, args: argparse.Namespace
) -> list[dict[str, float]]:
    session = Session(trainer, task, f"{task.name}-{strategy}-{seed}")
    session.label(session.by_name(start_set(task, args.start, seed)))
    order = session.unlabelled()
    random.Random(seed + 1000).shuffle(order)
    curve = []
    while True:
        iteration_id, train_s = train_and_wait(trainer, session.project.id)
        score = session.score(iteration_id)
        point = {"labels": len(session.labelled), "score": round(score, 4), "train_s": round(train_s, 1)}
        left = session.unlabelled()
        if not left or len(session.labelled) >= args.max_labels:
            curve.append(point)
            log.info("%s %s seed %d: %s", task.name, strategy, seed, point)
            return curve
        started = time.perf_counter()
        if strategy == "uncertainty":
            token = SuggestedTagAndRegionQueryToken(max_count=args.step, sort_by="UncertaintyDescending")
            results = trainer.query_suggested_images(session.project.id, iteration_id, token).results
            chosen = [r.id for r in results]
            point["chosen_uncertainty"] = round(
                sum(r.prediction_uncertainty for r in results) / len(results), 3
            )
        else:
            chosen = [i for i in order if i not in session.labelled][: args.step]
        point["choose_s"] = round(time.perf_counter() - started, 2)
        curve.append(point)
        log.info("%s %s seed %d: %s", task.name, strategy, seed, point)
        session.label(chosen)


def mean_curve(curves: list[list[dict[str, float]]]) -> list[tuple[int, float]]:
    """Scores averaged over repeats at each label count (every repeat has the same counts)."""
    return [
        (int(points[0]["labels"]), round(sum(p["score"] for p in points) / len(points), 4))
        for points in zip(*curves, strict=True)
    ]


def labels_to_reach(curve: list[tuple[int, float]], target: float) -> int | None:
    return next((labels for labels, score in curve if score >= target), None)


def plot(task: Task, results: dict[str, list[list[dict[str, float]]]], target: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    colours = {"uncertainty": "tab:orange", "random": "tab:blue"}
    for strategy, curves in results.items():
        for curve in curves if len(curves) > 1 else ():
            ax.plot(
                [p["labels"] for p in curve],
                [p["score"] for p in curve],
                color=colours[strategy],
                alpha=0.25,
                lw=1,
            )
        mean = mean_curve(curves)
        label = f"{strategy} sampling" + (f" (mean of {len(curves)})" if len(curves) > 1 else "")
        ax.plot(
            [x for x, _ in mean], [y for _, y in mean], marker="o", ms=3, color=colours[strategy], label=label
        )
    everything = mean_curve(results["random"])[-1][0]  # distinct images: a set may hold a file twice
    ax.axhline(target, color="grey", ls="--", lw=1, label=f"random, all {everything} labels: {target:.3f}")
    ax.set_xlabel("labelled training images")
    ax.set_ylabel(task.metric)
    ax.set_title(
        f"Active learning on {'hymenoptera' if task.name == 'classification' else 'raccoons'} ({task.name})"
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def run_task(trainer: Any, task: Task, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, list[list[dict[str, float]]]] = {"random": [], "uncertainty": []}
    for repeat in range(args.repeats):
        for strategy in results:
            results[strategy].append(simulate(trainer, task, strategy, args.seed + repeat, args))
    random_mean, uncertainty_mean = mean_curve(results["random"]), mean_curve(results["uncertainty"])
    all_labels, target = random_mean[-1]
    needed = labels_to_reach(uncertainty_mean, target)
    path = OUT / f"active_learning_{task.name}{args.suffix}.png"
    plot(task, results, target, path)
    return {
        "metric": task.metric,
        "pool": len({i.data for i in task.pool}),  # distinct images (a set may hold a file twice)
        "n_val": len(task.val),
        "start_per_tag": args.start,
        "step": args.step,
        "repeats": args.repeats,
        "baseline": {
            "what": "random sampling with every training image labelled",
            "labels": all_labels,
            "score": target,
        },
        "uncertainty_labels_to_reach_baseline": needed,
        "ratio": round(needed / all_labels, 3) if needed else None,
        "random_labels_to_reach_baseline": labels_to_reach(random_mean, target),
        "curves": {"random": random_mean, "uncertainty": uncertainty_mean},
        "runs": results,
        "plot": str(path),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=("classification", "detection", "both"), default="both")
    parser.add_argument("--start", type=int, default=4, help="labelled images per tag to begin with")
    parser.add_argument("--step", type=int, default=10, help="images labelled per round")
    parser.add_argument("--repeats", type=int, default=1, help="start sets (seeds) to average over")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-labels", type=int, default=10**9, help="stop a run at this many labels")
    parser.add_argument("--det-size", type=int, default=224, help="detection input size (default 320)")
    parser.add_argument("--det-epochs", type=int, default=15, help="detection head epochs (default 30)")
    parser.add_argument("--suffix", default="", help="added to the plot's file name")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    # A run can take an hour: stopping it (kill) still stops its server, through the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tasks = {"classification": hymenoptera, "detection": raccoons}
    chosen = list(tasks) if args.task == "both" else [args.task]
    report: dict[str, Any] = {"bench": "active_learning", "unit": "labels"}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(
            Path(tmp) / "data",
            TAGSIGHT_MIN_IMAGES_PER_TAG=str(args.start),
            TAGSIGHT_MIN_IMAGES_PER_TAG_DETECTION=str(args.start),
            TAGSIGHT_DETECTION_INPUT_SIZE=str(args.det_size),
            TAGSIGHT_DETECTION_EPOCHS=str(args.det_epochs),
            # One iteration per round: more rounds than Azure's 20 iterations per project.
            TAGSIGHT_LIMIT_ITERATIONS_PER_PROJECT="1000",
        )
        try:
            trainer = CustomVisionTrainingClient(
                server.url, ApiKeyCredentials(in_headers={"Training-key": server.training_key})
            )
            for name in chosen:
                report[name] = run_task(trainer, tasks[name](), args)
                if name == "detection":
                    report[name]["detection_settings"] = {
                        "input_size": args.det_size,
                        "epochs": args.det_epochs,
                    }
                log.info(
                    "%s: %s", name, {k: v for k, v in report[name].items() if k not in ("runs", "curves")}
                )
        finally:
            server.stop()
    report["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
