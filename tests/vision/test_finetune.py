"""Tests for tagsight.vision.finetune (Advanced classification training) and its augmentation."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from shared_data import SHARED_DATA

from tagsight.vision.augment import AugmentConfig, crop_box, random_view
from tagsight.vision.finetune import (
    FinetuneConfig,
    build_model,
    frozen_count,
    frozen_prefix,
    holdout_split,
    lite,
    lr_factor,
    set_trainable,
    train_advanced,
    train_step,
    trained_suffix,
    training_mode,
)
from tagsight.vision.imageio import decode_rgb
from tagsight.vision.runtime import OnnxModel
from tagsight.vision.train_classifier import TrainedClassifier, TrainingImage

HYMENOPTERA = (SHARED_DATA or Path("/nonexistent")) / "hymenoptera"
needs_data = pytest.mark.skipif(SHARED_DATA is None, reason="../shared/data is not available")
LABELS = ["ant", "bee"]
# Small enough for a test: Lite0 at 128 px with 96 px views, two epochs of twelve images.
FAST = FinetuneConfig(
    backbone="efficientnet_lite0", input_size=128, train_size=96, max_epochs=2, batch_size=6, lr=1e-4
)


class MemoryCache:
    """FeatureCache in a dict: shared by the module's runs, so images are embedded once."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.blobs: dict[str, bytes] = {}

    def get(self, key: str) -> np.ndarray | None:
        return self.arrays.get(key)

    def put(self, key: str, value: np.ndarray) -> None:
        self.arrays[key] = value

    def get_bytes(self, key: str) -> bytes | None:
        return self.blobs.get(key)

    def put_bytes(self, key: str, value: bytes) -> None:
        self.blobs[key] = value


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []

    def __call__(self, fraction: float, message: str) -> None:
        self.calls.append((fraction, message))


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """As in test_backbones: one thread is robust to other processes holding a core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def cache() -> MemoryCache:
    return MemoryCache()


@pytest.fixture(scope="module")
def photos() -> tuple[list[TrainingImage], np.ndarray]:
    """8 ants and 8 bees from hymenoptera/train, with one-hot targets."""
    if SHARED_DATA is None:
        pytest.skip("../shared/data is not available")
    images, classes = [], []
    for label, folder in enumerate(("ants", "bees")):
        for path in sorted((HYMENOPTERA / "train" / folder).glob("*.jpg"))[:8]:
            data = path.read_bytes()
            images.append(TrainingImage(hashlib.sha256(data).hexdigest(), lambda data=data: data))
            classes.append(label)
    return images, np.eye(2, dtype=np.float32)[classes]


@pytest.fixture(scope="module")
def trained(
    photos: tuple[list[TrainingImage], np.ndarray], cache: MemoryCache
) -> tuple[TrainedClassifier, Recorder]:
    images, targets = photos
    progress = Recorder()
    result = train_advanced(images, targets, LABELS, FAST, cache=cache, progress=progress)
    return result, progress


def val_photos(count: int) -> list[Image.Image]:
    paths = [
        sorted((HYMENOPTERA / "val" / f).glob("*.jpg"))[i]
        for i in range(count // 2)
        for f in ("ants", "bees")
    ]
    return [decode_rgb(p.read_bytes()) for p in paths]


@needs_data
def test_exported_model_classifies_like_a_regular_one(trained: tuple[TrainedClassifier, Recorder]) -> None:
    result, _ = trained
    model = OnnxModel(result.onnx)
    assert model.labels == LABELS
    assert model.input_size == FAST.input_size
    assert model.metadata["classification_type"] == "Multiclass"
    assert model.metadata["backbone"] == FAST.backbone
    probs = model.classify(val_photos(4))
    assert probs.shape == (4, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


@needs_data
def test_only_held_out_images_have_probabilities(trained: tuple[TrainedClassifier, Recorder]) -> None:
    result, _ = trained
    held = result.folds == 0
    assert set(result.folds.tolist()) == {0, -1}
    assert result.probabilities.shape == (16, 2) and result.probabilities.dtype == np.float32
    assert np.isfinite(result.probabilities[held]).all()
    np.testing.assert_allclose(result.probabilities[held].sum(axis=1), 1.0, atol=1e-5)
    assert np.isnan(result.probabilities[~held]).all()
    assert held[:8].any() and held[8:].any(), "every tag is represented in the held-out split"
    evaluation = result.evaluation
    assert evaluation["method"] == "holdout" and evaluation["folds"] == 1 and evaluation["images"] == 16
    assert evaluation["held_out"] == held.sum()
    assert 0 <= evaluation["best_epoch"] <= evaluation["epochs"] <= FAST.max_epochs  # type: ignore[operator]
    assert evaluation["device"] in ("cpu", "cuda")


@needs_data
def test_progress_is_reported_in_order(trained: tuple[TrainedClassifier, Recorder]) -> None:
    _, progress = trained
    fractions = [f for f, _ in progress.calls]
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions)
    messages = [m for _, m in progress.calls]
    assert any("held-out loss" in m for m in messages), "each epoch is scored and reported"
    assert messages[-1] == "Exporting the model"
    assert torch.get_num_threads() == 1, "the thread setting is restored"


@needs_data
def test_a_tiny_budget_still_returns_the_warm_started_model(
    photos: tuple[list[TrainingImage], np.ndarray], cache: MemoryCache
) -> None:
    images, targets = photos
    progress = Recorder()
    cfg = FinetuneConfig(backbone=FAST.backbone, input_size=FAST.input_size, budget_s=0.5)
    result = train_advanced(images, targets, LABELS, cfg, cache=cache, progress=progress)
    assert result.evaluation["stopped"] == "budget"
    assert result.evaluation["epochs"] == 0 and result.evaluation["best_epoch"] == 0
    assert progress.calls, "progress was reported"
    assert np.isfinite(result.probabilities[result.folds == 0]).all()
    probs = OnnxModel(result.onnx).classify(val_photos(2))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


@needs_data
def test_multilabel_trains_one_sigmoid_per_tag(
    photos: tuple[list[TrainingImage], np.ndarray], cache: MemoryCache
) -> None:
    images, targets = photos
    # A third tag on every image: with a softmax the three could never all be likely.
    multi = np.concatenate([targets, np.ones((len(targets), 1), dtype=np.float32)], axis=1)
    cfg = dataclasses.replace(FAST, multilabel=True, max_epochs=1)
    result = train_advanced(images, multi, [*LABELS, "insect"], cfg, cache=cache, progress=Recorder())
    model = OnnxModel(result.onnx)
    assert model.metadata["classification_type"] == "Multilabel"
    probs = model.classify(val_photos(4))
    assert probs.shape == (4, 3) and ((probs >= 0) & (probs <= 1)).all()
    assert (probs.sum(axis=1) > 1.2).all(), "independent sigmoids, not a softmax"
    held = result.folds == 0
    assert np.isfinite(result.probabilities[held]).all() and np.isnan(result.probabilities[~held]).all()


@needs_data
def test_a_failing_progress_callback_cancels_training(
    photos: tuple[list[TrainingImage], np.ndarray], cache: MemoryCache
) -> None:
    images, targets = photos

    def progress(fraction: float, message: str) -> None:
        if message.startswith("Epoch"):
            raise KeyboardInterrupt("cancelled")

    with pytest.raises(KeyboardInterrupt, match="cancelled"):
        cfg = dataclasses.replace(FAST, threads=2)
        train_advanced(images, targets, LABELS, cfg, cache=cache, progress=progress)
    assert torch.get_num_threads() == 1, "the thread setting is restored after a failure too"


def test_fine_tuning_changes_the_last_blocks_and_nothing_else() -> None:
    torch.manual_seed(0)
    model = build_model(FAST, 2)
    frozen = frozen_count(model, FAST)
    assert 0 < frozen < len(lite(model)._blocks)
    set_trainable(model, frozen)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    training_mode(model, frozen)
    views = torch.randint(0, 256, (4, 96, 96, 3), dtype=torch.uint8)
    targets = torch.eye(2)[torch.tensor([0, 1, 0, 1])]
    for _ in range(2):
        train_step(model, optimiser, views, targets, frozen, FAST)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert f"backbone._blocks.{frozen}._depthwise_conv.weight" in changed
    assert "backbone._conv_head.weight" in changed and "head.weight" in changed
    assert not {k for k in changed if k.startswith("backbone._blocks.0.")}, "early blocks stay frozen"
    assert not {k for k in changed if "running_" in k}, "BatchNorm keeps its statistics"


def test_frozen_prefix_and_trained_suffix_make_the_whole_model() -> None:
    model = build_model(FAST, 3)
    frozen = frozen_count(model, FAST)
    pixels = torch.randint(0, 256, (2, 128, 128, 3), dtype=torch.uint8)
    with torch.no_grad():
        split = trained_suffix(model, frozen_prefix(model, pixels, frozen), frozen)
        torch.testing.assert_close(split, model.logits(pixels))
    model.train()
    with pytest.raises(AssertionError, match="evaluation mode"):
        frozen_prefix(model, pixels, frozen)


def test_holdout_split_is_stratified_and_leaves_every_tag_trained() -> None:
    targets = np.zeros((23, 4), dtype=np.float32)
    targets[:10, 0] = 1  # 10 images → 2 held out
    targets[10:20, 1] = 1
    targets[20:22, 2] = 1  # 2 images → 1 held out, 1 trained
    targets[22, 3] = 1  # a single image cannot be held out
    held = holdout_split(targets, 0.2, seed=0)
    assert held[:10].sum() == 2 and held[10:20].sum() == 2 and held[20:22].sum() == 1 and not held[22]
    assert np.array_equal(held, holdout_split(targets, 0.2, seed=0))
    untagged = np.zeros((6, 2), dtype=np.float32)  # Multilabel images without tags: a group too
    assert holdout_split(untagged, 0.2, seed=0).sum() == 1


def test_learning_rate_warms_up_then_decays_to_zero() -> None:
    factors = [lr_factor(step, 100, 10) for step in range(101)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[10:] == sorted(factors[10:], reverse=True)
    assert factors[100] == pytest.approx(0.0, abs=1e-12)


def test_random_views_keep_most_of_the_image() -> None:
    rng = np.random.default_rng(0)
    cfg = AugmentConfig()
    for _ in range(200):
        left, top, right, bottom = crop_box(100, rng, cfg)
        assert 0 <= left < right <= 100 and 0 <= top < bottom <= 100
        assert (right - left) * (bottom - top) >= cfg.scale[0] * 100 * 100 - 1e-6
    square = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    view = random_view(square, 48, rng, cfg)
    assert view.shape == (48, 48, 3) and view.dtype == np.uint8
    # The whole square, unflipped and unjittered, is exactly what inference would feed at that size.
    plain = AugmentConfig(full_view=1.0, flip=False, jitter=0.0)
    expected = np.asarray(
        Image.fromarray(square).resize((48, 48), Image.Resampling.BILINEAR, reducing_gap=3.0)
    )
    np.testing.assert_array_equal(random_view(square, 48, rng, plain), expected)
