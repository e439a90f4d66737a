"""The export registry and the graph utilities converters rely on, on small hand-built ONNX graphs."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tagsight.vision.exporters import UnknownTargetError, find_exporter, list_exporters
from tagsight.vision.exporters._onnx import sort_nodes


def test_registry_lists_azures_platforms_and_refuses_unknown_targets() -> None:
    assert {e.platform for e in list_exporters()} == {
        "ONNX",
        "OpenVino",
        "TensorFlow",
        "CoreML",
        "DockerFile",
    }
    assert find_exporter("ONNX", "OnnxFloat16").platform == "ONNX"
    assert find_exporter("DockerFile", "ARM").platform == "DockerFile"
    with pytest.raises(UnknownTargetError, match="Unknown export platform 'VAIDK'"):
        find_exporter("VAIDK", None)
    with pytest.raises(UnknownTargetError, match="no flavor 'Windows'"):
        find_exporter("DockerFile", "Windows")
    # Formats whose converters are optional say which extra installs them.
    assert find_exporter("TensorFlow", "TensorFlowLite").extra == "tflite"
    assert find_exporter("ONNX", None).requires == ()


def _graph(
    nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], shape: list[int], out: list[int]
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_sort_nodes_restores_a_topological_order() -> None:
    nodes = [
        helper.make_node("Relu", ["a"], ["y"]),  # consumer first, as float16 conversion leaves casts
        helper.make_node("Neg", ["x"], ["a"]),
    ]
    model = _graph(nodes, [], [2], [2])
    sort_nodes(model.graph)
    assert [n.op_type for n in model.graph.node] == ["Neg", "Relu"]
    onnx.checker.check_model(model)


def test_torch_replay_matches_onnxruntime() -> None:
    torch = pytest.importorskip("torch")
    from tagsight.vision.exporters._torch_graph import OnnxGraphModule

    rng = np.random.default_rng(0)
    weight = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    inits = [
        numpy_helper.from_array(weight, "w"),
        numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 0, 0], dtype=np.int64), "pads"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "start"),
        numpy_helper.from_array(np.array([-(2**62)], dtype=np.int64), "end"),
        numpy_helper.from_array(np.array([3], dtype=np.int64), "axis"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "step"),
        numpy_helper.from_array(np.array([5], dtype=np.int64), "k"),
        numpy_helper.from_array(np.array([1, 4, -1], dtype=np.int64), "shape"),
    ]
    nodes = [
        # Asymmetric padding (TensorFlow-style "same"), a reversed slice, clip, then top-k on a flat map.
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[0, 0, 1, 1], strides=[2, 2]),
        helper.make_node("Pad", ["c", "pads"], ["p"]),
        helper.make_node("Slice", ["p", "start", "end", "axis", "step"], ["s"]),
        helper.make_node("Clip", ["s"], ["r"], name="clip"),
        helper.make_node("Reshape", ["r", "shape"], ["f"]),
        helper.make_node("TopK", ["f", "k"], ["v", "i"], axis=-1),
        helper.make_node("GatherElements", ["f", "i"], ["g"], axis=2),
        helper.make_node("Add", ["v", "g"], ["y"]),
    ]
    model = _graph(nodes, inits, [1, 3, 8, 8], [1, 4, 5])
    onnx.checker.check_model(model)
    x = rng.normal(size=(1, 3, 8, 8)).astype(np.float32)
    (expected,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )
    (replayed,) = OnnxGraphModule(model)(torch.from_numpy(x))
    np.testing.assert_allclose(replayed.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_head_decoding_check_ignores_order_but_not_moved_boxes() -> None:
    import numpy as np

    from tagsight.vision.exporters._tensorflow import _same_detections

    rng = np.random.default_rng(0)
    boxes = rng.uniform(size=(200, 4)).astype(np.float32)
    scores = np.sort(rng.uniform(0.01, 0.9, 200))[::-1].astype(np.float32)
    classes = np.zeros(200, np.int64)
    swap = np.arange(200)
    swap[[5, 6]] = swap[[6, 5]]
    assert _same_detections((boxes, scores, classes), (boxes[swap], scores[swap], classes[swap]))
    moved = boxes.copy()
    moved[3] += 0.1
    assert not _same_detections((boxes, scores, classes), (moved, scores, classes))
    weaker = scores.copy()
    weaker[0] -= 0.01
    assert not _same_detections((boxes, scores, classes), (boxes, weaker, classes))
