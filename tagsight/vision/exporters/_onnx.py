"""ONNX: the iteration's own graph (preprocessing, and for detection decoding and NMS, inside).

Flavors: ``ONNX10`` and ``ONNX12`` are Azure's names for its float32 ONNX exports (ONNX 1.0 and 1.2
era runtimes); Tagsight's graphs need opset 17 (Trilu, GatherElements, Shape with slicing), which
onnx's version converter cannot lower, so every float32 flavor ships the same opset-17 model that
any onnxruntime from 1.11 on runs. ``OnnxFloat16`` stores weights and activations in float16 with
float32 inputs and outputs kept, so callers feed and read it the same way.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx
import onnxruntime as ort

from tagsight.vision.exporters._bundle import Bundle, add_common, describe, readme, standard_outputs, template
from tagsight.vision.exporters._registry import ExportRequest, ModelInfo, register_exporter

FLOAT16 = "OnnxFloat16"
# Box decoding and selection stay float32 in the float16 model: TopK's ordering and the box
# arithmetic on the pixel scale are where half precision would move answers, and they are cheap.
_FLOAT32_OPS = ("TopK", "GatherElements", "Exp", "Trilu", "Mod", "Equal", "Where", "LessOrEqual", "ReduceMax")


def load(request: ExportRequest) -> tuple[onnx.ModelProto, ModelInfo]:
    model = onnx.load(str(request.model))
    return model, ModelInfo.read(model)


def input_description(info: ModelInfo, *, batch: int | str = "N", name: str = "image") -> dict[str, object]:
    size = info.input_size
    return {"name": name, "size": size, "shape": [batch, size, size, 3], "layout": "NHWC", "dtype": "uint8"}


def to_float16(model: onnx.ModelProto) -> onnx.ModelProto:
    # onnxruntime ships onnxconverter-common's converter, so this needs no extra dependency.
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    block = sorted(set(DEFAULT_OP_BLOCK_LIST) | set(_FLOAT32_OPS))
    # A detector's pyramid and head stay float32 too: they are a small share of the work, and in
    # half precision a weakly trained detector's borderline boxes moved by several hundredths.
    head_nodes = [n.name for n in model.graph.node if n.name.startswith(("/head/", "/pyramid/"))]
    converted = convert_float_to_float16(
        model, keep_io_types=True, op_block_list=block, node_block_list=head_nodes
    )
    assert isinstance(converted, onnx.ModelProto)
    # The converter appends the casts it puts around blocked ops at the end of the node list,
    # which the ONNX checker (and some runtimes) refuse: restore a topological order.
    sort_nodes(converted.graph)
    return converted


def sort_nodes(graph: onnx.GraphProto) -> None:
    """Order ``graph.node`` so every node comes after the producers of its inputs (Kahn's algorithm)."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered: list[onnx.NodeProto] = []
    while pending:
        ready = [n for n in pending if all(i in available for i in n.input)]
        if not ready:
            raise ValueError("The graph has a cycle or an input nothing produces.")
        for node in ready:
            available.update(node.output)
        ordered.extend(ready)
        taken = {id(n) for n in ready}
        pending = [n for n in pending if id(n) not in taken]
    copies = [onnx.NodeProto() for _ in ordered]
    for copy, node in zip(copies, ordered, strict=True):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)


def static_graph(model: onnx.ModelProto, info: ModelInfo, workdir: Path) -> Path:
    """The graph at batch 1 with shape arithmetic folded away: what other converters digest best.

    The exported graph computes paddings and reshapes from ``Shape`` at run time (the batch is
    dynamic); fixing the batch lets onnxruntime's basic optimisations (constant folding, standard
    ONNX ops only) turn those into constants.
    """
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    for value in list(fixed.graph.input) + list(fixed.graph.output):
        dim = value.type.tensor_type.shape.dim
        if dim:
            dim[0].Clear()
            dim[0].dim_value = 1
    source = workdir / "fixed.onnx"
    target = workdir / "static.onnx"
    onnx.save(fixed, str(source))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(target)
    options.intra_op_num_threads = 1
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    static = onnx.load(str(target))
    del static.metadata_props[:]
    static.metadata_props.extend(model.metadata_props)
    onnx.save(static, str(target))
    return target


@register_exporter("ONNX", (None, "ONNX10", "ONNX12", FLOAT16))
def write_onnx(request: ExportRequest, bundle: Bundle) -> None:
    model, info = load(request)
    if request.flavor == FLOAT16:
        model = to_float16(model)
    with tempfile.TemporaryDirectory() as tmp:
        # Checked the way a user would load it: a graph onnxruntime refuses must not ship.
        path = Path(tmp) / "model.onnx"
        onnx.save(model, str(path))
        onnx.checker.check_model(str(path))
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        bundle.add_file("model.onnx", path)
    precision = "float16 inside, float32 in and out" if request.flavor == FLOAT16 else "float32"
    metadata = describe(
        info,
        request,
        inputs={**input_description(info), "precision": precision},
        outputs=standard_outputs(info),
    )
    metadata["opset"] = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    body = (
        "## Files\n\n"
        "- `model.onnx`: input `image`, uint8 (N, S, S, 3) NHWC RGB, batch any size.\n"
        "- `sample.py`: `pip install onnxruntime numpy pillow`, then `python sample.py photo.jpg`.\n"
        "- `preprocess.py`, `postprocess.py`: the Prediction API's resize and result list.\n"
    )
    add_common(
        bundle,
        info,
        request,
        metadata=metadata,
        readme=readme("ONNX model", info, body),
        sample=template("onnx_sample.py"),
    )
