"""Tests for tagsight.vision.backbones: registry, strict weight loading, shapes, the ImageNet port, ONNX."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tagsight.vision.backbones import (
    Backbone,
    BackboneCfg,
    create_backbone,
    get_backbone_cfg,
    image_to_array,
    image_to_tensor,
    images_to_batch,
    list_backbones,
    load_weights,
)

NAMES = list_backbones()
LITE_INPUT_SIZES = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}
IMAGENET_ANT, IMAGENET_BEE = 310, 309
PHOTOS_PER_CLASS = 6


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: on 2 cores, 2 threads run ~40x slower whenever another process holds a core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def without_head(state: dict[str, torch.Tensor], cfg: BackboneCfg) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if not k.startswith(cfg.classifier + ".")}


def test_registry_has_the_lite_variants() -> None:
    assert set(LITE_INPUT_SIZES) <= set(NAMES)
    assert NAMES == sorted(NAMES)
    for name, size in LITE_INPUT_SIZES.items():
        cfg = get_backbone_cfg(name)
        assert cfg.input_size == size
        assert cfg.mean == pytest.approx((0.498,) * 3, abs=5e-4)
        assert cfg.std == pytest.approx((0.502,) * 3, abs=5e-4)
        assert cfg.feature_dim == 1280
        assert cfg.interpolation == "bilinear"


@pytest.mark.parametrize("lookup", [create_backbone, get_backbone_cfg])
def test_unknown_name_is_a_clear_error(lookup: object) -> None:
    assert callable(lookup)
    with pytest.raises(KeyError) as caught:
        lookup("efficientnet_b99")
    assert isinstance(caught.value, ValueError)
    assert "efficientnet_b99" in str(caught.value)
    assert all(name in str(caught.value) for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_cfg_is_frozen_and_names_an_installed_wheel(name: str) -> None:
    cfg = get_backbone_cfg(name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.input_size = 1  # type: ignore[misc]
    assert "/" not in cfg.weights and ":" not in cfg.weights  # a module name, never a URL or path
    assert cfg.license == "Apache-2.0"


@pytest.mark.parametrize("name", NAMES)
def test_weights_load_strictly(name: str) -> None:
    cfg = get_backbone_cfg(name)
    state = load_weights(cfg)
    model = create_backbone(name, pretrained=False)
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    loaded = create_backbone(name).state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


@pytest.mark.parametrize("name", NAMES)
def test_output_shapes_at_the_native_input_size(name: str) -> None:
    model = create_backbone(name, pretrained=False).eval()
    size = model.cfg.input_size
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        features = model.forward_features(x)
        maps = model.forward_feature_maps(x)
        logits = model(x)
    assert isinstance(model, Backbone)
    assert model.feature_dim == model.cfg.feature_dim
    assert features.shape == (2, model.feature_dim)
    assert logits.shape == (2, 1000)
    assert len(model.feature_channels) == len(maps) == 3
    for fmap, channels, stride in zip(maps, model.feature_channels, (8, 16, 32), strict=True):
        side = math.ceil(size / stride)  # TF SAME padding rounds odd sizes up
        assert fmap.shape == (2, channels, side, side)


@pytest.mark.parametrize("name", NAMES)
def test_new_head_keeps_pretrained_features(name: str) -> None:
    model = create_backbone(name, num_classes=3).eval()
    cfg = model.cfg
    pretrained = without_head(load_weights(cfg), cfg)
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in pretrained.items())
    x = torch.randn(1, 3, cfg.input_size, cfg.input_size)
    with torch.no_grad():
        assert model(x).shape == (1, 3)
        model.reset_head(5)
        assert model.num_classes == 5
        assert model(x).shape == (1, 5)
        model.reset_head(0)  # no classifier: forward returns the pooled features
        assert torch.allclose(model(x), model.forward_features(x))


def first_photos(shared_data: Path, kind: str) -> list[Path]:
    photos = sorted((shared_data / "hymenoptera" / "val" / kind).glob("*.jpg"))[:PHOTOS_PER_CLASS]
    if len(photos) < PHOTOS_PER_CLASS:
        pytest.skip(f"fewer than {PHOTOS_PER_CLASS} {kind} photos in {shared_data}")
    return photos


@pytest.mark.parametrize("name", NAMES)
def test_imagenet_head_recognises_ants_and_bees(name: str, shared_data: Path) -> None:
    """The port check: wrong padding, BN eps, block wiring or preprocessing would break these answers.

    Measured on the first 6 val photos per class (top-1 ants+bees / top-5 per class):
    lite0 4+3 / 6,5; lite1 5+3 / 6,6; lite2 4+3 / 6,6. The top-1 misses are apiary, honeycomb, rapeseed,
    cockroach, fountain: context classes, not noise. Chance would be 1 in 1000 for top-1.
    """
    model = create_backbone(name).eval()
    photos = {
        IMAGENET_ANT: first_photos(shared_data, "ants"),
        IMAGENET_BEE: first_photos(shared_data, "bees"),
    }
    top1_hits = 0
    for label, paths in photos.items():
        batch = images_to_batch([Image.open(p) for p in paths], model.cfg)
        with torch.no_grad():
            top5 = model(torch.from_numpy(batch)).topk(5, dim=1).indices
        top5_hits = int((top5 == label).any(dim=1).sum())
        top1_hits += int((top5[:, 0] == label).sum())
        assert top5_hits >= PHOTOS_PER_CLASS - 1, f"class {label}: top-5 right for only {top5_hits}"
    assert top1_hits >= PHOTOS_PER_CLASS, f"top-1 right for only {top1_hits} of {2 * PHOTOS_PER_CLASS}"


# The legacy TorchScript exporter and its internals warn that they are deprecated; the dynamo exporter
# needs onnxscript, which tagsight does not depend on.
@pytest.mark.filterwarnings(
    "ignore:You are using the legacy TorchScript-based ONNX export:DeprecationWarning"
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning:torch.onnx")
@pytest.mark.parametrize("name", NAMES)  # not just lite0: lite2's odd-sized maps once exported wrong pads
def test_onnx_export_matches_torch(name: str, tmp_path: Path) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    model = create_backbone(name).eval()
    size = model.cfg.input_size
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, size, size),),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["images"],
        output_names=["logits"],
        dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
    )
    x = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(0))  # batch 3: dynamic axis
    with torch.no_grad():
        expected = model(x).numpy()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    (actual,) = session.run(["logits"], {"images": x.numpy()})
    assert actual.shape == (3, 1000)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-4)


def test_fine_tuning_step_updates_the_whole_network() -> None:
    model = create_backbone("efficientnet_lite0", num_classes=2).train()
    x = torch.randn(2, 3, 128, 128)
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 1]))
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(g is not None and g.abs().sum() > 0 for g in grads[:3] + grads[-2:])  # stem and new head


def test_preprocess_normalises_and_squashes() -> None:
    cfg = get_backbone_cfg("efficientnet_lite0")
    colour = (255, 0, 128)
    image = Image.new("RGBA", (50, 20), (*colour, 255))
    array = image_to_array(image, cfg)
    assert array.dtype == np.float32 and array.shape == (3, cfg.input_size, cfg.input_size)
    for channel, value in enumerate(colour):
        expected = (value / 255 - cfg.mean[channel]) / cfg.std[channel]
        assert np.allclose(array[channel], expected, atol=1e-6)
    assert torch.equal(image_to_tensor(image, cfg), torch.from_numpy(array))
    grey = Image.new("L", (10, 30), 7)
    assert images_to_batch([image, grey], cfg).shape == (2, 3, cfg.input_size, cfg.input_size)
    assert images_to_batch([], cfg).shape == (0, 3, cfg.input_size, cfg.input_size)


def test_numpy_preprocessing_does_not_import_torch() -> None:
    """The ONNX inference path imports only this module; loading torch there would cost memory and seconds."""
    probe = "import sys, tagsight.vision.backbones.preprocess; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0
