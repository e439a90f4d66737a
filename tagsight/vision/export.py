"""Turning a trained torch module into the ONNX artifact an iteration keeps."""

from __future__ import annotations

import io
import warnings

import onnx
import torch
from torch import nn

OPSET = 17


def export_onnx(
    model: nn.Module, example: torch.Tensor, *, output_names: list[str], metadata: dict[str, str]
) -> bytes:
    """Export ``model`` (evaluation mode, batch dimension dynamic) and attach ``metadata``.

    The input is named ``image``: uint8 (N, S, S, 3) RGB, which the metadata also states, so an
    exported file explains itself to any runtime.
    """
    model.eval()
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript-based exporter announces its own deprecation; it is the one that needs
        # no extra dependency and handles these convolutional models well.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            buffer,
            input_names=["image"],
            output_names=output_names,
            dynamic_axes={"image": {0: "batch"}, **{name: {0: "batch"} for name in output_names}},
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString()
