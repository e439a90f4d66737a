"""Image backbones: a timm-style registry of EfficientNet-Lite variants with their preprocessing.

    model = create_backbone("efficientnet_lite0", num_classes=5)
    logits = model(image_to_tensor(image, model.cfg).unsqueeze(0))

Attributes are resolved lazily: importing the numpy + PIL only `tagsight.vision.backbones.preprocess`
(for ONNX inference) must not drag in torch, and Python imports this package's __init__ first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._registry import (
        Backbone,
        BackboneCfg,
        UnknownBackboneError,
        create_backbone,
        get_backbone_cfg,
        image_to_tensor,
        list_backbones,
        load_weights,
        register_backbone,
    )
    from .efficientnet_lite import EfficientNetLite
    from .preprocess import image_to_array, images_to_batch

__all__ = [
    "Backbone",
    "BackboneCfg",
    "EfficientNetLite",
    "UnknownBackboneError",
    "create_backbone",
    "get_backbone_cfg",
    "image_to_array",
    "image_to_tensor",
    "images_to_batch",
    "list_backbones",
    "load_weights",
    "register_backbone",
]

_HOME = {
    "EfficientNetLite": "efficientnet_lite",
    "image_to_array": "preprocess",
    "images_to_batch": "preprocess",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{_HOME.get(name, '_registry')}", __name__)
    value = getattr(module, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
