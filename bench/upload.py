"""Upload throughput: hymenoptera/train through the official SDK in batches of 64.

Prints one JSON object. The baseline is the in-process cost of decoding and thumbnailing the same
files (``prepare_image``), so ``ratio`` says how much of the end-to-end rate the HTTP, database
and storage layers keep.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from _server import ServerProcess, shared_data
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from msrest.authentication import ApiKeyCredentials

from tagsight.vision.imageio import prepare_image

BATCH = 64
log = logging.getLogger("bench.upload")


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    train = shared_data() / "hymenoptera" / "train"
    files = sorted(p for p in train.rglob("*") if p.is_file())
    payloads = [(p.parent.name, p.name, p.read_bytes()) for p in files]

    start = time.perf_counter()
    for _, _, data in payloads:
        try:
            prepare_image(data)
        except Exception:  # noqa: BLE001 - the baseline only times what decodes
            pass
    baseline_s = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        server = ServerProcess(data_dir)
        try:
            trainer = CustomVisionTrainingClient(
                server.url, ApiKeyCredentials(in_headers={"Training-key": server.training_key})
            )
            project = trainer.create_project("upload-bench")
            tags = {
                name: trainer.create_tag(project.id, name).id for name in sorted({c for c, _, _ in payloads})
            }
            before = folder_size(data_dir)
            statuses: dict[str, int] = {}
            start = time.perf_counter()
            for i in range(0, len(payloads), BATCH):
                chunk = payloads[i : i + BATCH]
                entries = [ImageFileCreateEntry(name=n, contents=d, tag_ids=[tags[c]]) for c, n, d in chunk]
                summary = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
                for result in summary.images:
                    statuses[result.status] = statuses.get(result.status, 0) + 1
            elapsed = time.perf_counter() - start
            stored = trainer.get_image_count(project.id)
            per_image = (folder_size(data_dir) - before) / max(stored, 1)
            rss = server.peak_rss_mb()
        finally:
            server.stop()

    rate = len(payloads) / elapsed
    baseline_rate = len(payloads) / baseline_s
    print(
        json.dumps(
            {
                "bench": "upload",
                "unit": "images/s",
                "n": len(payloads),
                "batch": BATCH,
                "images_per_s": round(rate, 1),
                "seconds": round(elapsed, 2),
                "statuses": statuses,
                "stored": stored,
                "server_peak_rss_mb": round(rss, 1),
                "data_bytes_per_image": round(per_image),
                "input_bytes_per_image": round(sum(len(d) for _, _, d in payloads) / len(payloads)),
                "baseline": "in-process prepare_image (decode, validate, thumbnail)",
                "baseline_images_per_s": round(baseline_rate, 1),
                "ratio": round(rate / baseline_rate, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
