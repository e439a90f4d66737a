"""OpenVINO: IR (``model.xml`` + ``model.bin``) converted from the ONNX graph with ``openvino``.

The IR keeps the ONNX model's interface: uint8 NHWC input, normalisation inside, and for detection
decoding and NMS inside. Weights stay float32 (OpenVINO would halve them by default), so answers
match the Prediction API to float32 rounding.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tagsight.vision.exporters._bundle import Bundle, add_common, describe, readme, standard_outputs, template
from tagsight.vision.exporters._onnx import input_description, load
from tagsight.vision.exporters._registry import ExportRequest, register_exporter

F32 = {"INFERENCE_PRECISION_HINT": "f32"}


@register_exporter("OpenVino", (None,), requires=("openvino",), extra="export")
def write_openvino(request: ExportRequest, bundle: Bundle) -> None:
    import openvino as ov

    _, info = load(request)
    model = ov.convert_model(str(request.model))
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "model.xml"
        ov.save_model(model, str(xml), compress_to_fp16=False)
        bundle.add_file("model.xml", xml)
        bundle.add_file("model.bin", xml.with_suffix(".bin"))
    metadata = describe(info, request, inputs=input_description(info), outputs=standard_outputs(info))
    metadata["openvino"] = ov.__version__
    # On CPUs with bfloat16 units (AMX, AVX512-BF16) OpenVINO computes in bfloat16 unless told
    # otherwise, which moves probabilities by up to about 1e-2.
    metadata["compileConfig"] = F32
    body = (
        "## Files\n\n"
        "- `model.xml`, `model.bin`: OpenVINO IR; input `image`, uint8 (N, S, S, 3) NHWC RGB.\n"
        "- `sample.py`: `pip install openvino numpy pillow`, then `python sample.py photo.jpg`.\n"
        '- Compile with `{"INFERENCE_PRECISION_HINT": "f32"}` (as `sample.py` does) for float32\n'
        "  answers: on CPUs with bfloat16 units OpenVINO otherwise computes in bfloat16.\n"
        "- `preprocess.py`, `postprocess.py`: the Prediction API's resize and result list.\n"
    )
    add_common(
        bundle,
        info,
        request,
        metadata=metadata,
        readme=readme("OpenVINO model", info, body),
        sample=template("openvino_sample.py"),
    )
