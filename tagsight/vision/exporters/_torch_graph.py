"""An ONNX graph run with PyTorch operations, so that converters that read only PyTorch can take it.

coremltools has read no ONNX since version 6, and onnx2torch needs a torchvision that cannot be
installed beside Tagsight's CPU torch; Tagsight's exported graphs use a few dozen standard ops, so
they are interpreted here. ``OnnxGraphModule(model)`` holds the initializers as buffers and replays
the nodes in order; traced with ``torch.jit.trace`` at a fixed input shape it becomes a plain graph
of aten ops. Its outputs are checked against onnxruntime before anything is converted.
"""

from __future__ import annotations

import threading
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


# Parameters read as Python values at conversion time (shapes, axes, bounds): they are constants in
# Tagsight's graphs, and traced as numbers they leave no tensor-to-int casts for converters to trip on.
Static = Tensor | np.ndarray
_STATIC_INPUTS = {
    "Clip": (1, 2),
    "Reshape": (1,),
    "Slice": (1, 2, 3, 4),
    "Pad": (1, 2, 3),
    "TopK": (1,),
    "Unsqueeze": (1,),
    "Squeeze": (1,),
    "Resize": (1, 2, 3),
    "Expand": (1,),
    "Tile": (1,),
    "ReduceMean": (1,),
    "ReduceMax": (1,),
    "ReduceSum": (1,),
    "ReduceProd": (1,),
    "Trilu": (1,),
    "ConstantOfShape": (0,),
    "Range": (0, 1, 2),
}


# Shapes of the current node's inputs, recorded by an eager probe: read while tracing, ``x.shape``
# would be recorded as size ops (dynamic shapes), which converters then have to fold.
_current = threading.local()


def _shape(x: Tensor, position: int = 0) -> tuple[int, ...]:
    known: list[tuple[int, ...] | None] = getattr(_current, "shapes", [])
    recorded = known[position] if position < len(known) else None
    return recorded if recorded is not None else tuple(int(d) for d in x.shape)


def _values(t: Static) -> list[float]:
    array = t.detach().cpu().numpy() if isinstance(t, Tensor) else np.asarray(t)
    return [v.item() for v in array.reshape(-1)]


def _ints(t: Static | None) -> list[int]:
    return [] if t is None else [int(v) for v in _values(t)]


def _scalar(t: Static) -> float:
    return float(_values(t)[0])


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


def _reshape(x: Tensor, shape: Static, **a: Any) -> Tensor:
    dims = _shape(x)
    target = [dims[i] if v == 0 and not a.get("allowzero") else v for i, v in enumerate(_ints(shape))]
    return x.reshape(target)


def _slice(
    x: Tensor, starts: Static, ends: Static, axes: Static | None = None, steps: Static | None = None
) -> Tensor:
    begin, end = _ints(starts), _ints(ends)
    dims = _ints(axes) or list(range(len(begin)))
    step = _ints(steps) or [1] * len(begin)
    out = x
    for s, e, d, k in zip(begin, end, dims, step, strict=True):
        d = d % x.dim()
        size = _shape(x)[d]
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
    dims, index_dims = _shape(x), _shape(indices, 1)
    index = torch.where(indices < 0, indices + dims[axis], indices)
    taken = torch.index_select(x, axis, index.reshape(-1))
    return taken.reshape(dims[:axis] + index_dims + dims[axis + 1 :])


def _pad(
    x: Tensor, pads: Static, value: Static | None = None, axes: Static | None = None, **a: Any
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
    fill = _scalar(value) if value is not None and len(_values(value)) else 0.0
    return F.pad(x, torch_pads, value=fill)


def _reduce(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    def reduce(x: Tensor, axes_input: Static | None = None, **a: Any) -> Tensor:
        axes = a.get("axes") or _ints(axes_input) or list(range(x.dim()))
        keep = bool(a.get("keepdims", 1))
        out = x
        for d in sorted((d % x.dim() for d in axes), reverse=True):
            out = fn(out, d, keep)
        return out

    return reduce


def _topk(x: Tensor, k: Tensor, axis: int = -1, largest: int = 1, sorted: int = 1) -> tuple[Tensor, Tensor]:
    values, indices = torch.topk(x, _ints(k)[0], dim=axis, largest=bool(largest), sorted=bool(sorted))
    return values, indices


def _resize(
    x: Tensor, roi: Static | None = None, scales: Static | None = None, sizes: Static | None = None, **a: Any
) -> Tensor:
    mode = a.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "nearest":
        raise ExportError(f"Resize mode {mode} is not supported.")
    if sizes is not None and len(_values(sizes)):
        return F.interpolate(x, size=_ints(sizes)[2:], mode="nearest")
    assert scales is not None
    factors = [float(v) for v in _values(scales)[2:]]
    return F.interpolate(x, scale_factor=factors, mode="nearest")


def _clip(x: Tensor, lo: Static | None = None, hi: Static | None = None) -> Tensor:
    if lo is None and hi is None:
        return x
    return torch.clamp(x, None if lo is None else _scalar(lo), None if hi is None else _scalar(hi))


def _gemm(a: Tensor, b: Tensor, c: Tensor | None = None, **at: Any) -> Tensor:
    a = a.t() if at.get("transA") else a
    b = b.t() if at.get("transB") else b
    out: Tensor = float(at.get("alpha", 1.0)) * (a @ b)
    return out if c is None else out + float(at.get("beta", 1.0)) * c


def _unsqueeze(x: Tensor, axes: Static) -> Tensor:
    out = x
    for d in sorted(_ints(axes)):
        out = out.unsqueeze(d if d >= 0 else d + out.dim() + 1)
    return out


def _squeeze(x: Tensor, axes: Static | None = None) -> Tensor:
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


def _constant_of_shape(shape: Static, value: Any = None) -> Tensor:
    fill = value if isinstance(value, Tensor) else torch.zeros(1)
    return torch.full(_ints(shape), _values(fill)[0], dtype=fill.dtype)


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
    "Flatten": lambda x, axis=1: x.reshape(int(np.prod(_shape(x)[:axis])), -1),
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": lambda *xs, axis: torch.cat(xs, dim=axis),
    "Slice": _slice,
    "Gather": _gather,
    "GatherElements": lambda x, index, axis=0: torch.gather(x, axis, index),
    "Expand": lambda x, shape: x * torch.ones(_ints(shape), dtype=x.dtype),
    "Tile": lambda x, repeats: x.repeat(_ints(repeats)),
    "Pad": _pad,
    "Shape": lambda x: torch.tensor(_shape(x), dtype=torch.int64),
    "ConstantOfShape": _constant_of_shape,
    "Range": lambda start, limit, delta: torch.arange(_scalar(start), _scalar(limit), _scalar(delta)),
    "Softmax": _softmax,
    "Gemm": _gemm,
    "MatMul": lambda a, b: a @ b,
    "GlobalAveragePool": lambda x: x.mean(dim=(2, 3), keepdim=True),
    "ReduceMean": _reduce(lambda x, d, k: x.mean(dim=d, keepdim=k)),
    "ReduceMax": _reduce(lambda x, d, k: x.amax(dim=d, keepdim=k)),
    "ReduceSum": _reduce(lambda x, d, k: x.sum(dim=d, keepdim=k)),
    "ReduceProd": _reduce(lambda x, d, k: _product(x, d, k)),
    "TopK": _topk,
    "Trilu": lambda x, k=None, upper=1: torch.triu(x, _k(k)) if upper else torch.tril(x, _k(k)),
    "Resize": _resize,
}


def _product(x: Tensor, dim: int, keep: bool) -> Tensor:
    # As a chain of multiplications: coremltools has no conversion for aten::prod, and the axes
    # reduced here are short (a box's width and height).
    parts = [x.narrow(dim, i, 1) for i in range(_shape(x)[dim])]
    out = parts[0]
    for part in parts[1:]:
        out = out * part
    return out if keep else out.squeeze(dim)


def _fold(fn: Callable[[Tensor, Tensor], Tensor], xs: tuple[Tensor, ...]) -> Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    return out


def _k(k: Static | None) -> int:
    return 0 if k is None else _ints(k)[0]


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
        self._static: dict[str, np.ndarray] = {}
        for i, init in enumerate(graph.initializer):
            self._constant(f"init{i}", init.name, torch.from_numpy(numpy_helper.to_array(init).copy()))
        self.nodes: list[tuple[str, list[str], list[str], dict[str, Any]]] = []
        for j, node in enumerate(graph.node):
            attrs = _attributes(node)
            if node.op_type == "Constant":
                self._constant(f"const{j}", node.output[0], attrs["value"])
                continue
            self.nodes.append((node.op_type, list(node.input), list(node.output), attrs))
        self._shapes: dict[str, tuple[int, ...]] = {}
        static_inputs = [[d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input]
        if all(dims and all(d > 0 for d in dims) for dims in static_inputs):
            # One eager run records every tensor's shape, so that tracing sees them as constants.
            types = [_DTYPES[i.type.tensor_type.elem_type] for i in graph.input]
            with torch.no_grad():
                self._run(
                    [torch.zeros(dims, dtype=t) for dims, t in zip(static_inputs, types, strict=True)], True
                )

    def _constant(self, buffer: str, name: str, value: Tensor) -> None:
        self.register_buffer(buffer, value, persistent=False)
        self._names[name] = buffer
        self._static[name] = value.numpy()

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        return self._run(list(inputs), False)

    def _run(self, inputs: list[Tensor], probe: bool) -> tuple[Tensor, ...]:
        env: dict[str, Any] = {name: getattr(self, buffer) for name, buffer in self._names.items()}
        env.update(zip(self.inputs, inputs, strict=True))
        env[""] = None
        try:
            for op, ins, outs, attrs in self.nodes:
                static = _STATIC_INPUTS.get(op, ())
                args = [
                    self._static[i] if k in static and i in self._static else env[i]
                    for k, i in enumerate(ins)
                ]
                _current.shapes = [None if probe else self._shapes.get(i) for i in ins]
                result = _OPS[op](*args, **attrs)
                if len(outs) == 1:
                    env[outs[0]] = result
                else:
                    env.update(zip(outs, result, strict=False))
                if probe:
                    for name in outs:
                        if isinstance(env.get(name), Tensor):
                            self._shapes[name] = tuple(int(d) for d in env[name].shape)
        finally:
            _current.shapes = []
        if probe:
            for name in self.inputs:
                self._shapes[name] = tuple(int(d) for d in env[name].shape)
            for name, buffer in self._names.items():
                self._shapes[name] = tuple(int(d) for d in getattr(self, buffer).shape)
        return tuple(env[o] for o in self.outputs)
