"""CoreML: an ML Program (``model.mlpackage``) converted on Linux with ``coremltools``.

coremltools reads no ONNX since version 6, so the ONNX graph (fixed at batch 1, shape arithmetic
folded) is replayed with PyTorch ops (``_torch_graph``), checked against onnxruntime, traced, and
converted from that. The input is a Core ML image (RGB, 0..255; Vision's ``scaleFill`` crop-and-scale
option squashes a photo to the input size exactly as Tagsight does), so an app passes a
``CVPixelBuffer`` straight in. Flavors: none (float32 compute) and ``CoreMLFloat16`` (float16, as the
Neural Engine runs). Core ML runs only on Apple's systems: Tagsight validates the converted
program here but cannot run it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from tagsight.vision.exporters._bundle import Bundle, add_common, describe, readme, standard_outputs, template
from tagsight.vision.exporters._onnx import load, static_graph
from tagsight.vision.exporters._registry import ExportError, ExportRequest, register_exporter

FLOAT16 = "CoreMLFloat16"


@register_exporter("CoreML", (None, FLOAT16), requires=("coremltools",), extra="coreml")
def write_coreml(request: ExportRequest, bundle: Bundle) -> None:
    import coremltools as ct
    import onnx
    import onnxruntime as ort
    import torch

    from tagsight.vision.exporters._torch_graph import OnnxGraphModule

    model, info = load(request)
    size = info.input_size
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        static = static_graph(model, info, work)
        graph = OnnxGraphModule(onnx.load(str(static))).eval()

        class ImageInput(torch.nn.Module):
            """Core ML images arrive as float NCHW; the graph takes NHWC pixels."""

            def __init__(self) -> None:
                super().__init__()
                self.network = graph

            def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
                outputs: tuple[torch.Tensor, ...] = self.network(image.permute(0, 2, 3, 1))
                return outputs

        wrapped = ImageInput().eval()
        pixels = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8)
        example = torch.from_numpy(pixels).permute(0, 3, 1, 2).float()
        with torch.no_grad():
            traced = torch.jit.trace(wrapped, example)  # type: ignore[no-untyped-call]
            replayed = [t.numpy() for t in traced(example)]
        expected = ort.InferenceSession(str(static), providers=["CPUExecutionProvider"]).run(
            None, {"image": pixels}
        )
        _check_replay(info.outputs, expected, replayed)
        precision = ct.precision.FLOAT16 if request.flavor == FLOAT16 else ct.precision.FLOAT32
        converted = ct.convert(
            traced,
            inputs=[
                ct.ImageType(name="image", shape=example.shape, color_layout=ct.colorlayout.RGB, scale=1.0)
            ],
            outputs=[ct.TensorType(name=n) for n in info.outputs],
            convert_to="mlprogram",
            compute_precision=precision,
            minimum_deployment_target=ct.target.iOS16,
        )
        converted.short_description = f"Tagsight {info.kind} model ({size}x{size} RGB in)"
        path = work / "model.mlpackage"
        converted.save(str(path))
        bundle.add_tree("model.mlpackage", path)
    inputs = {"name": "image", "size": size, "shape": [1, 3, size, size], "layout": "Core ML image (RGB)"}
    metadata = describe(info, request, inputs=inputs, outputs=standard_outputs(info))
    body = (
        "## Files\n\n"
        "- `model.mlpackage`: a Core ML ML Program (iOS 16 / macOS 13 or later). Input `image`: a\n"
        f"  {size}x{size} RGB image; with Vision use `imageCropAndScaleOption = .scaleFill`, which\n"
        "  squashes the photo as Tagsight does. Outputs as listed in `metadata.json`.\n"
        "- `sample.py`: on a Mac, `pip install coremltools numpy pillow`; `python sample.py photo.jpg`.\n"
    )
    add_common(
        bundle,
        info,
        request,
        metadata=metadata,
        readme=readme("Core ML model", info, body),
        sample=template("coreml_sample.py"),
    )


def _check_replay(names: tuple[str, ...], expected: list[np.ndarray], replayed: list[np.ndarray]) -> None:
    """The PyTorch replay must compute what onnxruntime computes before it is converted."""
    for name, want, got in zip(names, expected, replayed, strict=True):
        if name == "boxes":  # empty detection slots (score 0) hold arbitrary boxes
            continue
        if want.shape != got.shape or not np.allclose(want, got, atol=1e-4):
            raise ExportError(f"The model's '{name}' output could not be reproduced for conversion.")
