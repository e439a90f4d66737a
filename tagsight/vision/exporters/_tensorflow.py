"""TensorFlow: SavedModel, TensorFlow Lite (float32) and TensorFlow Lite with float16 weights.

Converted from the ONNX graph with ``onnx2tf`` (which needs TensorFlow): large dependencies, so
they come with the optional extra ``tagsight[tflite]``. The graph is first fixed at batch 1 with
its shape arithmetic folded (``_onnx.static_graph``); the input stays uint8 NHWC (the ONNX graph
already takes NHWC, so onnx2tf is told to keep that input's shape as it is).

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

from tagsight.vision.exporters._bundle import Bundle, add_common, describe, readme, standard_outputs, template
from tagsight.vision.exporters._onnx import input_description, load, static_graph
from tagsight.vision.exporters._registry import ExportError, ExportRequest, register_exporter

SAVED_MODEL = "TensorFlowSavedModel"
LITE = "TensorFlowLite"
LITE16 = "TensorFlowLiteFloat16"


def convert(static_onnx: Path, out: Path) -> None:
    """ONNX → ``out``/saved_model.pb (+ variables) and ``model_float32.tflite``/``model_float16.tflite``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import onnx2tf

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
        convert(static_graph(model, info, work), out)
        if flavor in (LITE, LITE16):
            produced = out / ("model_float16.tflite" if flavor == LITE16 else "model_float32.tflite")
            source = next(out.glob(f"*{produced.name[len('model') :]}"), None)
            if source is None:
                raise ExportError(f"onnx2tf produced no {produced.name}.")
            bundle.add_file("model.tflite", source)
            names = tflite_output_names(source)
        else:
            if not (out / "saved_model.pb").exists():
                raise ExportError("onnx2tf produced no SavedModel.")
            bundle.add_file("saved_model/saved_model.pb", out / "saved_model.pb")
            bundle.add_tree("saved_model/variables", out / "variables")
            names = {}
    lite = flavor in (LITE, LITE16)
    metadata = describe(
        info,
        request,
        inputs={
            **input_description(info, batch=1),
            "precision": "float16 weights" if flavor == LITE16 else "float32",
        },
        outputs=standard_outputs(info, names),
    )
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
    add_common(
        bundle,
        info,
        request,
        metadata=metadata,
        readme=readme("TensorFlow Lite model" if lite else "TensorFlow SavedModel", info, body),
        sample=template("tflite_sample.py" if lite else "savedmodel_sample.py"),
    )


def tflite_output_names(path: Path) -> dict[str, str]:
    """onnx2tf keeps the ONNX output names in the signature; record them in case it did not."""
    return {}
