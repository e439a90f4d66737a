"""Model export: for one classification and one detection iteration, every format this server offers.

Per format: export wall time (export_iteration until get_exports says Done, through the SDK), the
zip's size, and the single-image latency p50/p95 of the exported model in its own runtime
(onnxruntime, OpenVINO, LiteRT, TensorFlow), from prepared pixels to the predictions list with the
bundle's postprocess.py (which decodes TensorFlow detectors' boxes); the Docker bundle's server is
timed over HTTP, image decoding included.
The baseline, measured in the same run, is the Prediction API on the same image (HTTP, no store).
CoreML is exported and sized but cannot run on Linux.

    python bench/export.py [--runs 30] [--classification-images 20] [--detection-images 30]
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import logging
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import numpy as np
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

log = logging.getLogger("bench.export")
COMPACT_CLASSIFICATION = "0732100f-1a38-4e49-a514-c9b44c697ab5"
COMPACT_DETECTION = "a27d5ca5-bb19-49d8-a70a-fec086c47f5b"
TARGETS = (
    ("ONNX", None),
    ("ONNX", "OnnxFloat16"),
    ("OpenVino", None),
    ("TensorFlow", "TensorFlowSavedModel"),
    ("TensorFlow", "TensorFlowLite"),
    ("TensorFlow", "TensorFlowLiteFloat16"),
    ("CoreML", None),
    ("CoreML", "CoreMLFloat16"),
    ("DockerFile", "Linux"),
)
Runner = Callable[[np.ndarray], Any]


def _module(folder: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bundle_{name}", folder / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def runner(platform: str, flavor: str | None, folder: Path) -> Runner | None:
    """Pixels → the model's outputs by name (metadata.json's order), or None where it cannot run here."""
    names = list(json.loads((folder / "metadata.json").read_text())["outputs"])
    if platform == "ONNX":
        import onnxruntime as ort

        session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        return lambda pixels: dict(zip(names, session.run(names, {"image": pixels}), strict=True))
    if platform == "OpenVino":
        import openvino as ov

        config = json.loads((folder / "metadata.json").read_text())["compileConfig"]
        compiled = ov.Core().compile_model(str(folder / "model.xml"), "CPU", config)

        def infer(pixels: np.ndarray) -> dict[str, np.ndarray]:
            result = compiled(pixels)
            return {port.get_any_name(): result[port] for port in compiled.outputs}

        return infer
    if platform == "TensorFlow" and flavor in ("TensorFlowLite", "TensorFlowLiteFloat16"):
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(folder / "model.tflite"))
        interpreter.allocate_tensors()

        def invoke(pixels: np.ndarray) -> dict[str, np.ndarray]:
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], pixels)
            interpreter.invoke()
            details = interpreter.get_output_details()
            return {n: interpreter.get_tensor(d["index"]) for n, d in zip(names, details, strict=True)}

        return invoke
    if platform == "TensorFlow":
        import tensorflow as tf

        serve = tf.saved_model.load(str(folder / "saved_model")).signatures["serving_default"]

        def call(pixels: np.ndarray) -> dict[str, np.ndarray]:
            raw = serve(image=tf.constant(pixels))
            return {n: raw.get(n, raw.get(f"output_{i}")).numpy() for i, n in enumerate(names)}

        return call
    return None


def timed(function: Callable[[], Any], runs: int) -> dict[str, float]:
    function()  # warm-up: first runs allocate and compile
    latencies = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        latencies.append((time.perf_counter() - start) * 1000)
    q = statistics.quantiles(latencies, n=20)
    return {"latency_ms_p50": round(statistics.median(latencies), 2), "latency_ms_p95": round(q[18], 2)}


def docker_latency(folder: Path, photo: bytes, runs: int) -> dict[str, float]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from export_helpers import run_bundle_server

    with tempfile.TemporaryDirectory() as tmp, run_bundle_server(folder, Path(tmp) / "venv") as url:
        with httpx.Client(timeout=60) as client:
            return timed(lambda: client.post(url + "/image", content=photo).raise_for_status(), runs)


def export_all(trainer: Any, project_id: str, iteration_id: str, photo: bytes, runs: int) -> dict[str, Any]:
    offered = set(trainer.get_iteration(project_id, iteration_id).exportable_to or ())
    results: dict[str, Any] = {}
    for platform, flavor in TARGETS:
        name = f"{platform}/{flavor or '-'}"
        if platform not in offered:
            results[name] = {"skipped": "converter not installed on this server"}
            continue
        start = time.perf_counter()
        trainer.export_iteration(project_id, iteration_id, platform, flavor)
        while True:
            export = next(
                e
                for e in trainer.get_exports(project_id, iteration_id)
                if e.platform == platform and e.flavor == flavor
            )
            if export.status != "Exporting":
                break
            time.sleep(0.2)
        seconds = time.perf_counter() - start
        if export.status != "Done":
            results[name] = {"failed": True, "export_s": round(seconds, 1)}
            continue
        data = httpx.get(export.download_uri, timeout=120).content
        result: dict[str, Any] = {"export_s": round(seconds, 2), "zip_mb": round(len(data) / 2**20, 2)}
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            zipfile.ZipFile(io.BytesIO(data)).extractall(folder)
            if platform == "DockerFile":
                result.update(docker_latency(folder, photo, runs))
                result["runtime"] = "bundle server over HTTP (decode included)"
            else:
                run = runner(platform, flavor, folder)
                if run is None:
                    result["runtime"] = "cannot run on Linux"
                else:
                    metadata = json.loads((folder / "metadata.json").read_text())
                    pixels = _module(folder, "preprocess").prepare(photo, metadata["input"]["size"])
                    predictions = _module(folder, "postprocess").predictions
                    # Model and result list (decoding included where it lies outside the model).
                    result.update(timed(lambda: predictions(metadata, run(pixels)), runs))  # noqa: B023
                    result["runtime"] = "in-process, pixels to predictions"
        results[name] = result
        log.info("%s %s", name, result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--classification-images", type=int, default=20, help="per tag")
    parser.add_argument("--detection-images", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    data = shared_data()
    report: dict[str, Any] = {
        "bench": "export",
        "unit": "ms (latency), s (export), MiB (zip)",
        "n": args.runs,
    }
    with tempfile.TemporaryDirectory() as tmp:
        # Fewer detection epochs than the default: the model's size and speed do not depend on them.
        server = ServerProcess(Path(tmp) / "data", TAGSIGHT_DETECTION_EPOCHS="8")
        try:
            trainer = CustomVisionTrainingClient(
                server.url, ApiKeyCredentials(in_headers={"Training-key": server.training_key})
            )
            predictor = CustomVisionPredictionClient(
                server.url, ApiKeyCredentials(in_headers={"Prediction-key": server.prediction_key})
            )
            cls = trainer.create_project("bench-export-cls", domain_id=COMPACT_CLASSIFICATION)
            for name in ("ants", "bees"):
                tag = trainer.create_tag(cls.id, name)
                files = sorted((data / "hymenoptera" / "train" / name).glob("*.jpg"))[
                    : args.classification_images
                ]
                entries = [ImageFileCreateEntry(name=f.name, contents=f.read_bytes()) for f in files]
                trainer.create_images_from_files(
                    cls.id, ImageFileCreateBatch(images=entries, tag_ids=[tag.id])
                )
            det = trainer.create_project("bench-export-det", domain_id=COMPACT_DETECTION)
            raccoon = trainer.create_tag(det.id, "raccoon")
            names = (data / "raccoon" / "train.txt").read_text().split()[: args.detection_images]
            for i in range(0, len(names), 16):
                entries = []
                for n in names[i : i + 16]:
                    ann = read_voc(data / "raccoon" / "annotations" / f"{Path(n).stem}.xml")
                    regions = [
                        Region(
                            tag_id=raccoon.id,
                            left=o.left,
                            top=o.top,
                            width=o.right - o.left,
                            height=o.bottom - o.top,
                        )
                        for o in ann.objects
                    ]
                    contents = (data / "raccoon" / "images" / n).read_bytes()
                    entries.append(ImageFileCreateEntry(name=n, contents=contents, regions=regions))
                trainer.create_images_from_files(det.id, ImageFileCreateBatch(images=entries))
            cases = {
                "classification": (cls.id, sorted((data / "hymenoptera" / "val" / "bees").glob("*.jpg"))[0]),
                "detection": (
                    det.id,
                    data / "raccoon" / "images" / (data / "raccoon" / "val.txt").read_text().split()[0],
                ),
            }
            for kind, (project_id, photo_path) in cases.items():
                iteration_id, seconds = train_and_wait(trainer, project_id)
                trainer.publish_iteration(project_id, iteration_id, "bench", "/local/bench")
                photo = photo_path.read_bytes()
                call = (
                    predictor.classify_image_with_no_store
                    if kind == "classification"
                    else predictor.detect_image_with_no_store
                )
                report[kind] = {
                    "train_s": round(seconds, 1),
                    "baseline_prediction_api": timed(
                        lambda c=call, p=project_id, b=photo: c(p, "bench", b), args.runs
                    ),
                    "formats": export_all(trainer, project_id, iteration_id, photo, args.runs),
                }
        finally:
            server.stop()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
