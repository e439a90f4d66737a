"""Model export through the official SDK, and parity of every exported model with the Prediction API.

One small classifier and one small detector (compact domains) are trained once; each format is
exported from them, downloaded through ``downloadUri``, run in its own runtime on real photos
with the bundle's own preprocessing, and compared with what the Prediction API answers for the same
iteration: same top tag, probabilities within 1e-3 (float32) or 1e-2 (float16), boxes within 0.01.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import numpy as np
import pytest
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from export_helpers import run_bundle_server, wait_export
from msrest.authentication import ApiKeyCredentials
from raccoon import raccoon_entry, raccoon_names
from training_helpers import wait_for

from tagsight.vision.exporters import list_exporters

COMPACT_CLASSIFICATION = "0732100f-1a38-4e49-a514-c9b44c697ab5"
COMPACT_DETECTION = "a27d5ca5-bb19-49d8-a70a-fec086c47f5b"
GENERAL_CLASSIFICATION = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"
PER_TAG = 5
DETECTION_IMAGES = 8
FLOAT32, FLOAT16 = 1e-3, 1e-2


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import LiveServer, make_settings

    settings = make_settings(
        tmp_path_factory.mktemp("export"),
        min_images_per_tag_detection=DETECTION_IMAGES,
        detection_input_size=128,
        detection_epochs=6,
        max_advanced_training_s=30,
    )
    live = LiveServer(settings).start()
    yield live
    live.stop()


def _upload(trainer, project_id: str, files: list[Path], tag_id: str) -> None:
    entries = [ImageFileCreateEntry(name=f.name, contents=f.read_bytes(), tag_ids=[tag_id]) for f in files]
    assert trainer.create_images_from_files(
        project_id, ImageFileCreateBatch(images=entries)
    ).is_batch_successful


@pytest.fixture(scope="module")
def bundle_venv(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bundle") / "venv"


@pytest.fixture(scope="module")
def trained(server, shared_data: Path) -> dict[str, Any]:
    """Both models train in the background at once; the worker takes them one after the other."""
    trainer = server.trainer()
    train = shared_data / "hymenoptera" / "train"
    cls = trainer.create_project("export-ants-bees", domain_id=COMPACT_CLASSIFICATION)
    for name in ("ants", "bees"):
        tag = trainer.create_tag(cls.id, name)
        _upload(trainer, cls.id, sorted((train / name).glob("*.jpg"))[:PER_TAG], tag.id)
    det = trainer.create_project("export-raccoons", domain_id=COMPACT_DETECTION)
    raccoon = trainer.create_tag(det.id, "raccoon")
    entries = [raccoon_entry(shared_data, n, raccoon.id) for n in raccoon_names(shared_data, "train")]
    batch = ImageFileCreateBatch(images=entries[:DETECTION_IMAGES])
    assert trainer.create_images_from_files(det.id, batch).is_batch_successful
    started = [(p, trainer.train_project(p.id)) for p in (cls, det)]
    out: dict[str, Any] = {"trainer": trainer}
    for (project, iteration), key in zip(started, ("cls", "det"), strict=True):
        out[key] = _completed(trainer, project, iteration, key)
    # "adv": Advanced detection, whose graph also averages with the mirror image.
    advanced = trainer.train_project(det.id, training_type="Advanced", reserved_budget_in_hours=1)
    out["adv"] = _completed(trainer, det, advanced, "adv")
    return out


def _completed(trainer, project, iteration, key: str) -> tuple[Any, Any]:
    iteration = wait_for(trainer, project.id, iteration.id)
    assert iteration.status == "Completed", iteration.training_error_details
    trainer.publish_iteration(project.id, iteration.id, f"{key}-v1", "/local")
    return project, iteration


def _photos(shared_data: Path, kind: str) -> list[bytes]:
    if kind == "cls":
        val = shared_data / "hymenoptera" / "val"
        files = sorted((val / "ants").glob("*.jpg"))[:2] + sorted((val / "bees").glob("*.jpg"))[:2]
    else:
        files = [shared_data / "raccoon" / "images" / n for n in raccoon_names(shared_data, "val")[:3]]
    return [f.read_bytes() for f in files]


def _export(trained: dict[str, Any], kind: str, platform: str, flavor: str | None, tmp_path: Path) -> Path:
    """Export through the SDK, download the zip from downloadUri (no key), unpack it."""
    trainer = trained["trainer"]
    project, iteration = trained[kind]
    started = trainer.export_iteration(project.id, iteration.id, platform, flavor)
    assert started.platform == platform and started.flavor == flavor
    export = wait_export(trainer, project.id, iteration.id, platform, flavor)
    assert export.status == "Done", export.additional_properties
    response = httpx.get(export.download_uri, timeout=60)
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    folder = tmp_path / f"{kind}-{platform}-{flavor}"
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(folder)
    return folder


def _module(folder: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bundle_{name}_{abs(hash(folder))}", folder / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


Runner = Callable[[np.ndarray], dict[str, np.ndarray]]


def _exported_predictions(folder: Path, photos: list[bytes], run: Runner) -> list[list[dict[str, Any]]]:
    """The bundle's own preprocess → model → postprocess, as its sample script does."""
    metadata = json.loads((folder / "metadata.json").read_text())
    preprocess, postprocess = _module(folder, "preprocess"), _module(folder, "postprocess")
    size = metadata["input"]["size"]
    return [postprocess.predictions(metadata, run(preprocess.prepare(data, size))) for data in photos]


def _api_predictions(server, trained, kind: str, photos: list[bytes]) -> list[list[dict[str, Any]]]:
    project, _ = trained[kind]
    predictor = server.predictor()
    call = predictor.classify_image_with_no_store if kind == "cls" else predictor.detect_image_with_no_store
    return [[_as_dict(p) for p in call(project.id, f"{kind}-v1", data).predictions] for data in photos]


def _as_dict(p: Any) -> dict[str, Any]:
    out = {"tagId": p.tag_id, "tagName": p.tag_name, "probability": p.probability}
    if p.bounding_box is not None:
        b = p.bounding_box
        out["boundingBox"] = {"left": b.left, "top": b.top, "width": b.width, "height": b.height}
    return out


def _box(p: dict[str, Any]) -> np.ndarray:
    b = p["boundingBox"]
    return np.array([b["left"], b["top"], b["width"], b["height"]])


def assert_parity(expected: list[dict], actual: list[dict], tolerance: float, *, detection: bool) -> None:
    assert actual and expected
    assert actual[0]["tagName"] == expected[0]["tagName"]
    if not detection:
        want = {p["tagId"]: p["probability"] for p in expected}
        got = {p["tagId"]: p["probability"] for p in actual}
        assert want.keys() == got.keys()
        assert max(abs(want[t] - got[t]) for t in want) <= tolerance, (want, got)
        return
    # Each of the API's best boxes is found among the export's, with its probability and place.
    for p in expected[:3]:
        matches = [
            q
            for q in actual
            if q["tagId"] == p["tagId"]
            and abs(q["probability"] - p["probability"]) <= tolerance
            and np.abs(_box(q) - _box(p)).max() <= 0.01
        ]
        assert matches, (p, actual[:5])


def _check(server, trained, shared_data, kind: str, folder: Path, run: Runner, tolerance: float) -> None:
    photos = _photos(shared_data, kind)
    expected = _api_predictions(server, trained, kind, photos)
    actual = _exported_predictions(folder, photos, run)
    for want, got in zip(expected, actual, strict=True):
        assert_parity(want, got, tolerance, detection=kind != "cls")


def _run_sample(server, trained, shared_data: Path, kind: str, folder: Path) -> None:
    """The bundle's sample.py, run as its README says, names the API's top tag first."""
    photo = folder / "photo.jpg"
    photo.write_bytes(_photos(shared_data, kind)[0])
    done = subprocess.run(
        [sys.executable, "sample.py", str(photo)], cwd=folder, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    (expected,) = _api_predictions(server, trained, kind, [photo.read_bytes()])
    assert done.stdout.split()[0] == expected[0]["tagName"]


# --- the API: domains, iterations, rules ------------------------------------------------------------


def test_compact_domains_and_their_iterations_are_exportable(trained) -> None:
    trainer = trained["trainer"]
    compact = trainer.get_domain(COMPACT_CLASSIFICATION)
    assert compact.exportable and {"ONNX", "DockerFile"} <= set(compact.exportable_platforms)
    general = trainer.get_domain(GENERAL_CLASSIFICATION)
    assert not general.exportable and general.exportable_platforms == []
    for kind in ("cls", "det"):
        project, iteration = trained[kind]
        iteration = trainer.get_iteration(project.id, iteration.id)
        assert iteration.exportable
        assert iteration.exportable_to == trainer.get_domain(iteration.domain_id).exportable_platforms


def test_export_rules_answer_azure_error_codes(trained, server, shared_data: Path) -> None:
    trainer = trained["trainer"]
    project, iteration = trained["cls"]

    def code(*args: Any) -> str:
        with pytest.raises(CustomVisionErrorException) as info:
            trainer.export_iteration(project.id, *args)
        assert info.value.response.status_code == 400
        return str(info.value.error.code)

    assert code(iteration.id, "VAIDK") == "BadRequestExportValidationFailed"
    assert code(iteration.id, "ONNX", "CoreMLFloat16") == "BadRequestExportValidationFailed"
    assert code(iteration.id, "DockerFile", "Windows") == "BadRequestExportValidationFailed"
    for exporter in list_exporters():
        # A converter that is not installed is neither offered nor attempted, with a clear reason.
        offered = exporter.platform in trainer.get_domain(COMPACT_CLASSIFICATION).exportable_platforms
        assert offered == (not exporter.missing())
        if exporter.missing():
            flavor = next(f for f in exporter.flavors if f)
            assert code(iteration.id, exporter.platform, flavor) == "BadRequestNotSupported"
    # Two exports queue behind one another on the export thread, so the second is still in progress.
    trainer.export_iteration(project.id, iteration.id, "DockerFile", "Linux")
    trainer.export_iteration(project.id, iteration.id, "ONNX", "ONNX12")
    assert code(iteration.id, "ONNX", "ONNX12") == "BadRequestExportAlreadyInProgress"
    listed = {(e.platform, e.flavor): e for e in trainer.get_exports(project.id, iteration.id)}
    assert (
        listed[("ONNX", "ONNX12")].status == "Exporting" and listed[("ONNX", "ONNX12")].download_uri is None
    )
    assert wait_export(trainer, project.id, iteration.id, "ONNX", "ONNX12").status == "Done"

    # A model on a domain that is not compact cannot be exported; nor one still training.
    general = trainer.create_project("export-general", domain_id=GENERAL_CLASSIFICATION)
    train = shared_data / "hymenoptera" / "train"
    for name in ("ants", "bees"):
        tag = trainer.create_tag(general.id, name)
        _upload(trainer, general.id, sorted((train / name).glob("*.jpg"))[-PER_TAG:], tag.id)
    training = trainer.train_project(general.id)
    with pytest.raises(CustomVisionErrorException) as info:
        trainer.export_iteration(general.id, training.id, "ONNX")
    assert info.value.error.code == "BadRequestExportWhileTraining"
    done = wait_for(trainer, general.id, training.id)
    assert done.status == "Completed" and not done.exportable and done.exportable_to == []
    with pytest.raises(CustomVisionErrorException) as info:
        trainer.export_iteration(general.id, training.id, "ONNX")
    assert info.value.error.code == "BadRequestExportValidationFailed"


def test_an_iteration_still_training_or_failed_cannot_be_exported(server_factory, shared_data: Path) -> None:
    # No worker yet: the iteration stays Training until the test lets it run (and fail).
    server = server_factory(embedded_worker=False)
    trainer = server.trainer()
    project = trainer.create_project("export-failing", domain_id=COMPACT_CLASSIFICATION)
    images = []
    for name in ("ants", "bees"):
        tag = trainer.create_tag(project.id, name)
        files = sorted((shared_data / "hymenoptera" / "train" / name).glob("*.jpg"))[:PER_TAG]
        entries = [
            ImageFileCreateEntry(name=f.name, contents=f.read_bytes(), tag_ids=[tag.id]) for f in files
        ]
        summary = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
        images += [r.image.id for r in summary.images]
    iteration = trainer.train_project(project.id)
    with pytest.raises(CustomVisionErrorException) as info:
        trainer.export_iteration(project.id, iteration.id, "ONNX")
    assert info.value.error.code == "BadRequestExportWhileTraining"
    trainer.delete_images(project.id, image_ids=images[:3])  # the training will fail for want of them
    server.services.worker.start()
    assert wait_for(trainer, project.id, iteration.id).status == "Failed"
    with pytest.raises(CustomVisionErrorException) as info:
        trainer.export_iteration(project.id, iteration.id, "ONNX")
    assert info.value.error.code == "BadRequestIterationIsNotTrained"
    assert trainer.get_exports(project.id, iteration.id) == []


def test_download_needs_a_valid_signature_or_the_training_key(trained, server, tmp_path: Path) -> None:
    trainer = trained["trainer"]
    project, iteration = trained["cls"]
    trainer.export_iteration(project.id, iteration.id, "ONNX")
    export = wait_export(trainer, project.id, iteration.id, "ONNX", None)
    unsigned = export.download_uri.split("?")[0]
    assert httpx.get(unsigned).status_code == 403
    assert httpx.get(export.download_uri.replace("sig=", "sig=0")).status_code == 403
    keyed = httpx.get(unsigned, headers={"Training-Key": server.training_key})
    assert keyed.status_code == 200
    names = set(zipfile.ZipFile(io.BytesIO(keyed.content)).namelist())
    assert {"model.onnx", "labels.txt", "metadata.json", "README.md", "sample.py", "preprocess.py"} <= names
    bundle = zipfile.ZipFile(io.BytesIO(keyed.content))
    labels = bundle.read("labels.txt").decode().split()
    assert sorted(labels) == ["ants", "bees"]
    assert json.loads(bundle.read("metadata.json"))["labels"] == labels


# --- parity, one format at a time -----------------------------------------------------------------


def _onnx_runner(path: Path) -> Runner:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return lambda pixels: dict(zip(names, session.run(names, {"image": pixels}), strict=True))


@pytest.mark.parametrize("kind", ["cls", "det", "adv"])
@pytest.mark.parametrize(("flavor", "tolerance"), [(None, FLOAT32), ("OnnxFloat16", FLOAT16)])
def test_onnx_matches_the_prediction_api(
    trained, server, shared_data: Path, tmp_path: Path, kind: str, flavor: str | None, tolerance: float
) -> None:
    folder = _export(trained, kind, "ONNX", flavor, tmp_path)
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["input"]["layout"] == "NHWC" and metadata["input"]["colorOrder"] == "RGB"
    assert metadata["input"]["range"] == [0, 255] and metadata["input"]["dtype"] == "uint8"
    _check(server, trained, shared_data, kind, folder, _onnx_runner(folder / "model.onnx"), tolerance)
    if flavor is None:
        _run_sample(server, trained, shared_data, kind, folder)


@pytest.mark.parametrize("kind", ["cls", "det", "adv"])
def test_openvino_matches_the_prediction_api(
    trained, server, shared_data: Path, tmp_path: Path, kind: str
) -> None:
    ov = pytest.importorskip("openvino")
    folder = _export(trained, kind, "OpenVino", None, tmp_path)
    config = json.loads((folder / "metadata.json").read_text())["compileConfig"]
    assert config == {"INFERENCE_PRECISION_HINT": "f32"}
    compiled = ov.Core().compile_model(str(folder / "model.xml"), "CPU", config)

    def run(pixels: np.ndarray) -> dict[str, np.ndarray]:
        result = compiled(pixels)
        return {port.get_any_name(): result[port] for port in compiled.outputs}

    _check(server, trained, shared_data, kind, folder, run, FLOAT32)
    _run_sample(server, trained, shared_data, kind, folder)


# Each conversion takes a while (TensorFlow starts in the child), so one flavor per model.
@pytest.mark.parametrize(
    ("kind", "flavor", "tolerance"),
    [
        ("cls", "TensorFlowLite", FLOAT32),
        ("det", "TensorFlowLiteFloat16", FLOAT16),
        ("adv", "TensorFlowLite", FLOAT32),
    ],
)
def test_tflite_matches_the_prediction_api(
    trained, server, shared_data: Path, tmp_path: Path, kind: str, flavor: str, tolerance: float
) -> None:
    pytest.importorskip("onnx2tf")
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    folder = _export(trained, kind, "TensorFlow", flavor, tmp_path)
    interpreter = interpreter_module.Interpreter(model_path=str(folder / "model.tflite"))
    interpreter.allocate_tensors()
    # Outputs come in the ONNX model's order, named in metadata.json (as the bundle's sample reads them).
    names = list(json.loads((folder / "metadata.json").read_text())["outputs"])
    if kind != "cls":
        assert names == ["class_logits", "box_distances", "centerness_logits"]

    def run(pixels: np.ndarray) -> dict[str, np.ndarray]:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], pixels)
        interpreter.invoke()
        details = interpreter.get_output_details()
        return {n: interpreter.get_tensor(d["index"]) for n, d in zip(names, details, strict=True)}

    _check(server, trained, shared_data, kind, folder, run, tolerance)
    _run_sample(server, trained, shared_data, kind, folder)


@pytest.mark.parametrize(("kind", "flavor"), [("cls", None), ("det", "CoreMLFloat16")])
def test_coreml_converts_to_a_valid_ml_program(
    trained, tmp_path: Path, kind: str, flavor: str | None
) -> None:
    """Core ML runs only on Apple's systems: check the program's interface, which coremltools reads here."""
    ct = pytest.importorskip("coremltools")
    folder = _export(trained, kind, "CoreML", flavor, tmp_path)
    spec = ct.models.MLModel(str(folder / "model.mlpackage"), skip_model_load=True).get_spec()
    assert [i.name for i in spec.description.input] == ["image"]
    assert spec.description.input[0].type.WhichOneof("Type") == "imageType"
    outputs = [o.name for o in spec.description.output]
    assert outputs == (["probabilities"] if kind == "cls" else ["boxes", "scores", "classes"])


@pytest.mark.parametrize("kind", ["cls", "det"])
def test_docker_bundle_server_matches_the_prediction_api(
    trained, server, shared_data: Path, tmp_path: Path, bundle_venv: Path, kind: str
) -> None:
    folder = _export(trained, kind, "DockerFile", "ARM" if kind == "det" else "Linux", tmp_path)
    dockerfile = (folder / "Dockerfile").read_text()
    assert "linux/arm64" in dockerfile if kind == "det" else "linux/arm64" not in dockerfile
    photos = _photos(shared_data, kind)
    expected = _api_predictions(server, trained, kind, photos)
    project, _ = trained[kind]
    verb = "classify" if kind == "cls" else "detect"
    with run_bundle_server(folder, bundle_venv) as url:
        for i, (data, want) in enumerate(zip(photos, expected, strict=True)):
            # Azure's container routes: /image, and the Prediction API's path with the project.
            route = "/image" if i % 2 == 0 else f"/{project.id}/{verb}/iterations/{kind}-v1/image"
            response = httpx.post(url + route, content=data, timeout=60)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["project"] == project.id and body["iteration"] == trained[kind][1].id
            assert_parity(want, body["predictions"], FLOAT32, detection=kind == "det")
        files = {"imageData": ("photo.jpg", photos[0], "application/octet-stream")}
        multipart = httpx.post(url + "/image", files=files, timeout=60).json()
        assert_parity(expected[0], multipart["predictions"], FLOAT32, detection=kind == "det")
        # The official prediction SDK works against the bundle with only its endpoint changed.
        sdk = CustomVisionPredictionClient(url, ApiKeyCredentials(in_headers={"Prediction-key": "unused"}))
        call = sdk.classify_image if kind == "cls" else sdk.detect_image
        result = call(project.id, f"{kind}-v1", photos[1])
        assert_parity(
            expected[1], [_as_dict(p) for p in result.predictions], FLOAT32, detection=kind == "det"
        )
        wrong = "detect" if kind == "cls" else "classify"
        refused = httpx.post(f"{url}/{project.id}/{wrong}/iterations/x/image", content=photos[0], timeout=60)
        assert refused.status_code == 400 and refused.json()["code"] == "BadRequestNotSupported"


# --- restart safety -----------------------------------------------------------------------------------


def test_exports_interrupted_by_a_stop_are_done_at_the_next_start(trained, server) -> None:
    from conftest import LiveServer

    trainer = trained["trainer"]
    project, iteration = trained["det"]
    # One export converting (its child is killed at stop), one queued behind it.
    trainer.export_iteration(project.id, iteration.id, "DockerFile", "Linux")
    trainer.export_iteration(project.id, iteration.id, "ONNX", "ONNX10")
    server.stop()
    database = server.settings.data_dir / "tagsight.db"
    with sqlite3.connect(database) as connection:
        left = connection.execute("SELECT COUNT(*) FROM exports WHERE status = 'Exporting'").fetchone()[0]
    assert left >= 1  # at least the queued one; the running one too unless it had just finished
    restarted = LiveServer(server.settings).start()
    try:
        trainer = restarted.trainer()
        for platform, flavor in (("DockerFile", "Linux"), ("ONNX", "ONNX10")):
            export = wait_export(trainer, project.id, iteration.id, platform, flavor)
            assert export.status == "Done"
            assert httpx.get(export.download_uri, timeout=60).status_code == 200
    finally:
        restarted.stop()
