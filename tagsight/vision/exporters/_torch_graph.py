"""An ONNX graph run with PyTorch operations, so that converters that read only PyTorch can take it.

coremltools has read no ONNX since version 6, and onnx2torch needs a torchvision that cannot be
installed beside Tagsight's CPU torch; Tagsight's exported graphs use a few dozen standard ops, so
they are interpreted here. ``OnnxGraphModule(model)`` holds the initializers as buffers and replays
the nodes in order; traced with ``torch.jit.trace`` at a fixed input shape it becomes a plain graph
of aten ops. Its outputs are checked against onnxruntime before anything is converted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn
from torch.nn import functional as F

from tagsight.vision.exporters._registry import ExportError

Tensor = torch.Tensor
_DTYPES = {
    onnx.TensorProto.FLOAT: torch.float32,
    onnx.TensorProto.FLOAT16: torch.float16,
    onnx.TensorProto.DOUBLE: torch.float64,
    onnx.TensorProto.INT64: torch.int64,
    onnx.TensorProto.INT32: torch.int32,
    onnx.TensorProto.UINT8: torch.uint8,
    onnx.TensorProto.INT8: torch.int8,
    onnx.TensorProto.BOOL: torch.bool,
}


def _ints(t: Tensor | None) -> list[int]:
    return [] if t is None else [int(v) for v in t.reshape(-1).tolist()]


def _conv(x: Tensor, w: Tensor, b: Tensor | None = None, **a: Any) -> Tensor:
    pads = a.get("pads", [0, 0, 0, 0])
    top, left, bottom, right = pads
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ExportError("Conv with auto_pad is not supported.")
    if (top, left) != (bottom, right):
        x, padding = F.pad(x, (left, right, top, bottom)), (0, 0)
    else:
        padding = (top, left)
    stride, dilation = a.get("strides", [1, 1]), a.get("dilations", [1, 1])
    return F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=a.get("group", 1))


def _reshape(x: Tensor, shape: Tensor, **a: Any) -> Tensor:
    target = [x.shape[i] if v == 0 and not a.get("allowzero") else v for i, v in enumerate(_ints(shape))]
    return x.reshape(target)


def _slice(
    x: Tensor, starts: Tensor, ends: Tensor, axes: Tensor | None = None, steps: Tensor | None = None
) -> Tensor:
    begin, end = _ints(starts), _ints(ends)
    dims = _ints(axes) or list(range(len(begin)))
    step = _ints(steps) or [1] * len(begin)
    out = x
    for s, e, d, k in zip(begin, end, dims, step, strict=True):
        d = d % x.dim()
        size = x.shape[d]
        s = s + size if s < 0 else s
        e = e + size if e < 0 else e
        if k > 0:
            s, e = max(0, min(size, s)), max(0, min(size, e))
        else:  # ONNX clamps a backwards slice to [size - 1, -1]
            s, e = max(-1, min(size - 1, s)), max(-1, min(size - 1, e))
        picked = list(range(s, e, k))
        if k == 1:
            out = out.narrow(d, s, max(0, e - s))
        else:
            out = torch.index_select(out, d, torch.tensor(picked, dtype=torch.int64))
    return out


def _gather(x: Tensor, indices: Tensor, axis: int = 0) -> Tensor:
    axis = axis % x.dim()
    index = torch.where(indices < 0, indices + x.shape[axis], indices)
    taken = torch.index_select(x, axis, index.reshape(-1))
    return taken.reshape(x.shape[:axis] + index.shape + x.shape[axis + 1 :])


def _pad(
    x: Tensor, pads: Tensor, value: Tensor | None = None, axes: Tensor | None = None, **a: Any
) -> Tensor:
    p = _ints(pads)
    n = len(p) // 2
    dims = _ints(axes) or list(range(n))
    torch_pads: list[int] = [0] * (2 * x.dim())
    for i, d in enumerate(dims):  # torch lists pads from the last dimension backwards
        d = d % x.dim()
        torch_pads[2 * (x.dim() - 1 - d)] = p[i]
        torch_pads[2 * (x.dim() - 1 - d) + 1] = p[i + n]
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "constant":
        return F.pad(x, torch_pads, mode=mode)
    fill = float(value.reshape(-1)[0]) if value is not None and value.numel() else 0.0
    return F.pad(x, torch_pads, value=fill)


def _reduce(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    def reduce(x: Tensor, axes_input: Tensor | None = None, **a: Any) -> Tensor:
        axes = a.get("axes") or _ints(axes_input) or list(range(x.dim()))
        keep = bool(a.get("keepdims", 1))
        out = x
        for d in sorted((d % x.dim() for d in axes), reverse=True):
            out = fn(out, d, keep)
        return out

    return reduce


def _topk(x: Tensor, k: Tensor, axis: int = -1, largest: int = 1, sorted: int = 1) -> tuple[Tensor, Tensor]:
    values, indices = torch.topk(
        x, int(k.reshape(-1)[0]), dim=axis, largest=bool(largest), sorted=bool(sorted)
    )
    return values, indices


def _resize(
    x: Tensor, roi: Tensor | None = None, scales: Tensor | None = None, sizes: Tensor | None = None, **a: Any
) -> Tensor:
    mode = a.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "nearest":
        raise ExportError(f"Resize mode {mode} is not supported.")
    if sizes is not None and sizes.numel():
        return F.interpolate(x, size=_ints(sizes)[2:], mode="nearest")
    assert scales is not None
    factors = [float(v) for v in scales.reshape(-1).tolist()[2:]]
    return F.interpolate(x, scale_factor=factors, mode="nearest")


def _clip(x: Tensor, lo: Tensor | None = None, hi: Tensor | None = None) -> Tensor:
    if lo is None and hi is None:
        return x
    return torch.clamp(x, None if lo is None else lo.item(), None if hi is None else hi.item())


def _gemm(a: Tensor, b: Tensor, c: Tensor | None = None, **at: Any) -> Tensor:
    a = a.t() if at.get("transA") else a
    b = b.t() if at.get("transB") else b
    out: Tensor = float(at.get("alpha", 1.0)) * (a @ b)
    return out if c is None else out + float(at.get("beta", 1.0)) * c


def _unsqueeze(x: Tensor, axes: Tensor) -> Tensor:
    out = x
    for d in sorted(_ints(axes)):
        out = out.unsqueeze(d if d >= 0 else d + out.dim() + 1)
    return out


def _squeeze(x: Tensor, axes: Tensor | None = None) -> Tensor:
    if axes is None:
        return x.squeeze()
    out = x
    for d in sorted((d % x.dim() for d in _ints(axes)), reverse=True):
        out = out.squeeze(d)
    return out


def _div(a: Tensor, b: Tensor) -> Tensor:
    if not a.dtype.is_floating_point:
        return torch.div(a, b, rounding_mode="trunc")
    return a / b


def _softmax(x: Tensor, axis: int = -1) -> Tensor:
    return torch.softmax(x, dim=axis)


def _constant_of_shape(shape: Tensor, value: Any = None) -> Tensor:
    fill = value if isinstance(value, Tensor) else torch.zeros(1)
    return torch.full(_ints(shape), fill.reshape(-1)[0].item(), dtype=fill.dtype)


_OPS: dict[str, Callable[..., Any]] = {
    "Conv": _conv,
    "Relu": lambda x: torch.relu(x),
    "Sigmoid": lambda x: torch.sigmoid(x),
    "Exp": lambda x: torch.exp(x),
    "Sqrt": lambda x: torch.sqrt(x),
    "Neg": lambda x: torch.neg(x),
    "Floor": lambda x: torch.floor(x),
    "Not": lambda x: torch.logical_not(x),
    "Identity": lambda x: x,
    "Clip": _clip,
    "Add": lambda a, b: a + b,
    "Sub": lambda a, b: a - b,
    "Mul": lambda a, b: a * b,
    "Div": _div,
    "Pow": lambda a, b: torch.pow(a, b),
    "Max": lambda *xs: _fold(torch.maximum, xs),
    "Min": lambda *xs: _fold(torch.minimum, xs),
    "Equal": lambda a, b: a == b,
    "Less": lambda a, b: a < b,
    "LessOrEqual": lambda a, b: a <= b,
    "Greater": lambda a, b: a > b,
    "GreaterOrEqual": lambda a, b: a >= b,
    "And": lambda a, b: torch.logical_and(a, b),
    "Or": lambda a, b: torch.logical_or(a, b),
    "Where": lambda c, a, b: torch.where(c, a, b),
    "Mod": lambda a, b, fmod=0: torch.fmod(a, b) if fmod else torch.remainder(a, b),
    "Cast": lambda x, to: x.to(_DTYPES[to]),
    "Transpose": lambda x, perm=None: x.permute(perm) if perm else x.permute(*reversed(range(x.dim()))),
    "Reshape": _reshape,
    "Flatten": lambda x, axis=1: x.reshape(int(np.prod(x.shape[:axis])), -1),
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": lambda *xs, axis: torch.cat(xs, dim=axis),
    "Slice": _slice,
    "Gather": _gather,
    "GatherElements": lambda x, index, axis=0: torch.gather(x, axis, index),
    "Expand": lambda x, shape: x * torch.ones(_ints(shape), dtype=x.dtype),
    "Tile": lambda x, repeats: x.repeat(_ints(repeats)),
    "Pad": _pad,
    "Shape": lambda x: torch.tensor(x.shape, dtype=torch.int64),
    "ConstantOfShape": _constant_of_shape,
    "Range": lambda start, limit, delta: torch.arange(start.item(), limit.item(), delta.item()),
    "Softmax": _softmax,
    "Gemm": _gemm,
    "MatMul": lambda a, b: a @ b,
    "GlobalAveragePool": lambda x: x.mean(dim=(2, 3), keepdim=True),
    "ReduceMean": _reduce(lambda x, d, k: x.mean(dim=d, keepdim=k)),
    "ReduceMax": _reduce(lambda x, d, k: x.amax(dim=d, keepdim=k)),
    "ReduceSum": _reduce(lambda x, d, k: x.sum(dim=d, keepdim=k)),
    "ReduceProd": _reduce(lambda x, d, k: x.prod(dim=d, keepdim=k)),
    "TopK": _topk,
    "Trilu": lambda x, k=None, upper=1: torch.triu(x, _k(k)) if upper else torch.tril(x, _k(k)),
    "Resize": _resize,
}


def _fold(fn: Callable[[Tensor, Tensor], Tensor], xs: tuple[Tensor, ...]) -> Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    return out


def _k(k: Tensor | None) -> int:
    return 0 if k is None else int(k.reshape(-1)[0])


def _attributes(node: onnx.NodeProto) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr in node.attribute:
        value = onnx.helper.get_attribute_value(attr)
        if isinstance(value, onnx.TensorProto):
            value = torch.from_numpy(numpy_helper.to_array(value).copy())
        out[attr.name] = value
    if node.op_type in ("ReduceMean", "ReduceMax", "ReduceSum", "ReduceProd") and "axes" in out:
        out["axes"] = list(out["axes"])
    return out


class OnnxGraphModule(nn.Module):
    """Replays an ONNX graph with torch ops; inputs and outputs in the graph's order."""

    def __init__(self, model: onnx.ModelProto) -> None:
        super().__init__()
        graph = model.graph
        unsupported = sorted({n.op_type for n in graph.node} - set(_OPS) - {"Constant"})
        if unsupported:
            raise ExportError(
                f"The model uses operations this converter does not know: {', '.join(unsupported)}."
            )
        self.inputs = [i.name for i in graph.input]
        self.outputs = [o.name for o in graph.output]
        self._names: dict[str, str] = {}
        for i, init in enumerate(graph.initializer):
            self._constant(f"init{i}", init.name, torch.from_numpy(numpy_helper.to_array(init).copy()))
        self.nodes: list[tuple[str, list[str], list[str], dict[str, Any]]] = []
        for j, node in enumerate(graph.node):
            attrs = _attributes(node)
            if node.op_type == "Constant":
                self._constant(f"const{j}", node.output[0], attrs["value"])
                continue
            self.nodes.append((node.op_type, list(node.input), list(node.output), attrs))

    def _constant(self, buffer: str, name: str, value: Tensor) -> None:
        self.register_buffer(buffer, value, persistent=False)
        self._names[name] = buffer

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        env: dict[str, Any] = {name: getattr(self, buffer) for name, buffer in self._names.items()}
        env.update(zip(self.inputs, inputs, strict=True))
        env[""] = None
        for op, ins, outs, attrs in self.nodes:
            result = _OPS[op](*[env[i] for i in ins], **attrs)
            if len(outs) == 1:
                env[outs[0]] = result
            else:
                env.update(zip(outs, result, strict=False))
        return tuple(env[o] for o in self.outputs)
