"""TensorFlow: SavedModel, TensorFlow Lite (float32) and TensorFlow Lite with float16 weights.

Converted from the ONNX graph with ``onnx2tf`` (which needs TensorFlow): large dependencies, so
they come with the optional extra ``tagsight[tflite]``. The graph is first fixed at batch 1 with
its shape arithmetic folded (``_onnx.static_graph``); the input stays uint8 NHWC (the ONNX graph
already takes NHWC, so onnx2tf is told to keep that input's shape as it is). Detectors are
converted up to their head, and their bundles decode boxes in ``postprocess.py`` (see
``detection_head``).

Flavors: ``TensorFlowSavedModel``, and Azure's ``TensorFlowNormal`` or no flavor, give a SavedModel
folder; ``TensorFlowLite`` a ``model.tflite``; ``TensorFlowLiteFloat16`` one with float16 weights
(half the size; TFLite computes in float32 on a CPU).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import onnx
from onnx import numpy_helper

from tagsight.vision.exporters._bundle import Bundle, add_common, describe, readme, standard_outputs, template
from tagsight.vision.exporters._onnx import input_description, load, static_graph
from tagsight.vision.exporters._registry import ExportError, ExportRequest, ModelInfo, register_exporter

SAVED_MODEL = "TensorFlowSavedModel"
LITE = "TensorFlowLite"
LITE16 = "TensorFlowLiteFloat16"
SAMPLE_IMAGES = "calibration_image_sample_data_20x128x128x3_float32.npy"
RAW_OUTPUTS = {
    "class_logits": "float32 (1, locations, tags): per-location class logits",
    "box_distances": "float32 (1, locations, 4): distances to the left, top, right, bottom edges, pixels",
    "centerness_logits": "float32 (1, locations): centerness logits",
}


HEAD_OUTPUTS = tuple(RAW_OUTPUTS)


def detection_head(static_onnx: Path, info: ModelInfo) -> tuple[Path, dict[str, Any]]:
    """The detector's graph cut where its head ends, and the decoding parameters of the rest.

    onnx2tf mistakes the decoding's (N, locations, ·) tensors for channel-first images and
    transposes them, so the TensorFlow models stop at the head (as Azure's TensorFlow exports of
    detectors do) and ``postprocess.decode`` does the rest in numpy. The cut is found from the
    graph's shape (two Sigmoids: class logits, rank 3, and centerness, rank 2; the box
    distances are what the first GatherElements outside their cone reads) and checked: decoding
    the head's outputs must give the whole model's boxes.
    """
    model = onnx.load(str(static_onnx))
    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in list(graph.value_info) + list(graph.output)}
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    constants.update(
        {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node if n.op_type == "Constant"}
    )
    sigmoid_inputs = [n.input[0] for n in graph.node if n.op_type == "Sigmoid"]
    by_rank = {ranks.get(name): name for name in sigmoid_inputs}
    if len(sigmoid_inputs) != 2 or set(by_rank) != {2, 3}:
        raise ExportError(
            "The detector's graph does not have the expected head (class and centerness logits)."
        )
    cone = set(sigmoid_inputs)
    for node in graph.node:  # nodes are in topological order
        if cone & set(node.input):
            cone.update(node.output)
    box = next(
        (n.input[0] for n in graph.node if n.op_type == "GatherElements" and n.input[0] not in cone), None
    )
    topk = [int(constants[n.input[1]].reshape(-1)[0]) for n in graph.node if n.op_type == "TopK"]
    iou = [
        float(constants[i].reshape(-1)[0])
        for n in graph.node
        if n.op_type == "LessOrEqual"
        for i in n.input
        if i in constants
    ]
    if box is None or len(topk) != 2 or len(iou) != 1:
        raise ExportError("The detector's graph does not have the expected box decoding.")
    head = onnx.utils.Extractor(inferred).extract_model(["image"], [by_rank[3], box, by_rank[2]])
    for name, new in zip([by_rank[3], box, by_rank[2]], HEAD_OUTPUTS, strict=True):
        head.graph.node.append(onnx.helper.make_node("Identity", [name], [new]))
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in graph.value_info}
    sources = [by_rank[3], box, by_rank[2]]
    outputs = [
        onnx.helper.make_tensor_value_info(new, onnx.TensorProto.FLOAT, shapes[old])
        for old, new in zip(sources, HEAD_OUTPUTS, strict=True)
    ]
    del head.graph.output[:]
    head.graph.output.extend(outputs)
    path = static_onnx.with_name("head.onnx")
    onnx.save(head, str(path))
    params = {
        "inputSize": info.input_size,
        "strides": [8, 16, 32],
        "preNms": topk[0],
        "maxDetections": topk[1],
        "nmsIou": iou[0],
    }
    _check_decoding(static_onnx, path, info, params)
    return path, params


def _check_decoding(full: Path, head: Path, info: ModelInfo, params: dict[str, Any]) -> None:
    import numpy as np
    import onnxruntime as ort

    from tagsight.vision.exporters.templates.postprocess import decode

    pixels = np.random.default_rng(0).integers(
        0, 256, (1, info.input_size, info.input_size, 3), dtype=np.uint8
    )

    def run(path: Path) -> list[Any]:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return list(session.run(None, {"image": pixels}))

    boxes, scores, classes = run(full)
    decoded = decode(dict(zip(HEAD_OUTPUTS, run(head), strict=True)), **params)
    if not _same_detections(
        (boxes[0], scores[0], classes[0]),
        (decoded["boxes"][0], decoded["scores"][0], decoded["classes"][0]),
    ):
        raise ExportError("Decoding the detector's head outside the model does not reproduce its boxes.")


def _same_detections(expected: tuple[Any, Any, Any], found: tuple[Any, Any, Any]) -> bool:
    """Every detection of either side scoring clear of its cut-off (1e-3 above its lowest kept
    score) is among the other side's kept detections: same class, score within 1e-4, box within
    1e-3. On noise pixels hundreds of weak boxes score alike, so rounding may reorder near-ties or
    move the cut-off; order and the weakest boxes are left out of the comparison."""
    import numpy as np

    def kept(boxes: Any, scores: Any, classes: Any) -> list[tuple[Any, float, int]]:
        return [
            (np.asarray(b), float(s), int(c)) for b, s, c in zip(boxes, scores, classes, strict=True) if s > 0
        ]

    def clear(detections: list[tuple[Any, float, int]]) -> list[tuple[Any, float, int]]:
        floor = min((s for _, s, _ in detections), default=0.0) + 1e-3
        return [d for d in detections if d[1] > floor]

    def covered(these: list[tuple[Any, float, int]], others: list[tuple[Any, float, int]]) -> bool:
        return all(
            any(c == k and abs(s - t) <= 1e-4 and np.abs(b - o).max() <= 1e-3 for o, t, k in others)
            for b, s, c in these
        )

    a, b = kept(*expected), kept(*found)
    return covered(clear(a), b) and covered(clear(b), a)


def convert(static_onnx: Path, out: Path) -> None:
    """ONNX → ``out``/saved_model.pb (+ variables) and ``model_float32.tflite``/``model_float16.tflite``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import onnx2tf

    # For image-like inputs onnx2tf runs sample images through both models, and downloads them
    # from GitHub unless the file is in the working directory: give it synthetic ones (this runs
    # in the export's child process, so changing directory is harmless).
    os.chdir(static_onnx.parent)
    np.save(SAMPLE_IMAGES, np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32))

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    # onnx2tf prints its progress to stdout; the child's stdout is not read, but keep it short.
    with contextlib.redirect_stdout(io.StringIO()):
        onnx2tf.convert(
            input_onnx_file_path=str(static_onnx),
            output_folder_path=str(out),
            keep_shape_absolutely_input_names=["image"],
            copy_onnx_input_output_names_to_tflite=True,
            output_signaturedefs=True,
            non_verbose=True,
        )


@register_exporter(
    "TensorFlow",
    (None, "TensorFlowNormal", SAVED_MODEL, LITE, LITE16),
    requires=("tensorflow", "onnx2tf"),
    extra="tflite",
)
def write_tensorflow(request: ExportRequest, bundle: Bundle) -> None:
    model, info = load(request)
    flavor = request.flavor or "TensorFlowNormal"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        out = work / "tf"
        source = static_graph(model, info, work)
        decoding: dict[str, Any] | None = None
        if info.detection:
            source, decoding = detection_head(source, info)
        convert(source, out)
        if flavor in (LITE, LITE16):
            # onnx2tf names them after the ONNX file: <stem>_float32.tflite, <stem>_float16.tflite.
            suffix = "_float16.tflite" if flavor == LITE16 else "_float32.tflite"
            lite_model = next(out.glob(f"*{suffix}"), None)
            if lite_model is None:
                raise ExportError(f"onnx2tf produced no *{suffix}.")
            bundle.add_file("model.tflite", lite_model)
        else:
            if not (out / "saved_model.pb").exists():
                raise ExportError("onnx2tf produced no SavedModel.")
            bundle.add_file("saved_model/saved_model.pb", out / "saved_model.pb")
            bundle.add_tree("saved_model/variables", out / "variables")
    lite = flavor in (LITE, LITE16)
    metadata = describe(
        info,
        request,
        inputs={
            **input_description(info, batch=1),
            "precision": "float16 weights" if flavor == LITE16 else "float32",
        },
        outputs=standard_outputs(info) if decoding is None else RAW_OUTPUTS,
    )
    if decoding is not None:
        metadata["decode"] = decoding
    if lite:
        files = (
            "- `model.tflite`: input `image`, uint8 (1, S, S, 3) NHWC RGB.\n"
            "- `sample.py`: `pip install ai-edge-litert numpy pillow` (or use TensorFlow's\n"
            "  `tf.lite.Interpreter`), then `python sample.py photo.jpg`.\n"
        )
    else:
        files = (
            "- `saved_model/`: a TensorFlow SavedModel; signature `serving_default`, input `image`,\n"
            "  uint8 (1, S, S, 3) NHWC RGB.\n"
            "- `sample.py`: `pip install tensorflow numpy pillow`, then `python sample.py photo.jpg`.\n"
        )
    body = (
        "## Files\n\n"
        + files
        + "- `preprocess.py`, `postprocess.py`: the Prediction API's resize and result list.\n"
    )
    if decoding is not None:
        body += (
            "\n## Detection\n\n"
            "The model ends at the detector's head (`class_logits`, `box_distances`,\n"
            "`centerness_logits`); `postprocess.decode` turns them into boxes in numpy exactly as the\n"
            "ONNX model does inside (scores, box decoding, Fast NMS; parameters in `metadata.json`).\n"
        )
    add_common(
        bundle,
        info,
        request,
        metadata=metadata,
        readme=readme("TensorFlow Lite model" if lite else "TensorFlow SavedModel", info, body),
        sample=template("tflite_sample.py" if lite else "savedmodel_sample.py"),
    )
