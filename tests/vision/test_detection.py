"""The detector's parts: augmentation moves boxes with pixels, NMS, targets, AP, ONNX parity."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from tagsight.store.blobs import LocalBlobStore
from tagsight.store.feature_cache import BlobFeatureCache
from tagsight.vision.backbones import create_backbone
from tagsight.vision.box_augment import augment, crop_keeping_boxes, hflip, mosaic, zoom_out
from tagsight.vision.detection_loss import assign
from tagsight.vision.detector import Detector, DetectorConfig, fast_nms, level_points
from tagsight.vision.export import export_onnx
from tagsight.vision.metrics import coco_maps, detection_figures, interpolated_ap
from tagsight.vision.runtime import OnnxModel
from tagsight.vision.train_detector import DetectionSample, DetectorTrainConfig, embed_views, maps_model


def white_box_image(box: tuple[float, float, float, float], size=(320, 200)) -> Image.Image:
    image = Image.new("RGB", size, (0, 0, 0))
    w, h = size
    ImageDraw.Draw(image).rectangle(
        [box[0] * w, box[1] * h, box[2] * w - 1, box[3] * h - 1], fill=(255, 255, 255)
    )
    return image


def bright_extent(image: Image.Image) -> np.ndarray:
    pixels = np.asarray(image.convert("L")) > 128
    ys, xs = np.nonzero(pixels)
    h, w = pixels.shape
    return np.array([xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h])


@pytest.mark.parametrize("seed", range(6))
def test_augmentation_moves_boxes_with_the_pixels(seed: int) -> None:
    box = np.array([[0.2, 0.3, 0.6, 0.8]], dtype=np.float32)
    rng = np.random.default_rng(seed)
    image = white_box_image(tuple(box[0]))
    for transform in (
        lambda i, b: hflip(i, b),
        lambda i, b: crop_keeping_boxes(i, b, rng),
        lambda i, b: zoom_out(i, b, rng),
    ):
        moved_image, moved = transform(image, box)
        assert np.allclose(bright_extent(moved_image), moved[0], atol=0.02)
    _, moved = augment(image, box, rng)
    assert (moved >= 0).all() and (moved <= 1).all() and (moved[:, 2:] > moved[:, :2]).all()


@pytest.mark.parametrize("seed", range(4))
def test_mosaic_moves_every_tiles_boxes_with_its_pixels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    boxes = [np.array([[0.1 + 0.1 * k, 0.2, 0.5 + 0.1 * k, 0.7]], dtype=np.float32) for k in range(4)]
    tiles = [(white_box_image(tuple(b[0])), b, np.array([k])) for k, b in enumerate(boxes)]
    image, moved, labels = mosaic(tiles, rng, 320)
    assert image.size == (320, 320) and labels.tolist() == [0, 1, 2, 3]
    for k in range(4):
        x, y = (k % 2) * 160, (k // 2) * 160
        cell = bright_extent(image.crop((x, y, x + 160, y + 160)))
        in_cell = (moved[k] * 320 - [x, y, x, y]) / 160
        assert np.allclose(cell, in_cell, atol=0.02)


def test_fast_nms_suppresses_only_overlaps_of_the_same_class() -> None:
    boxes = torch.tensor(
        [[[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]]], dtype=torch.float32
    )
    classes = torch.tensor([[0, 0, 1, 0]])
    assert fast_nms(boxes, classes, 0.5).tolist() == [[1.0, 0.0, 1.0, 1.0]]


def test_targets_go_to_the_level_matching_the_object_size() -> None:
    points, strides = level_points(320)
    ranges = (
        torch.tensor([[0, 48], [48, 96], [96, 1e9]])
        .repeat_interleave(torch.tensor([40 * 40, 20 * 20, 10 * 10]), dim=0)
        .float()
    )
    small = torch.tensor([[100.0, 100.0, 140.0, 140.0]])
    big = torch.tensor([[20.0, 20.0, 300.0, 300.0]])
    for box, level in ((small, 8.0), (big, 32.0)):
        classes, _ = assign(points, strides, ranges, box, torch.tensor([0]))
        positive = classes >= 0
        assert positive.any()
        assert set(strides[positive].tolist()) == {level}


def test_interpolated_ap() -> None:
    assert interpolated_ap(np.array([1, 1, 1]), 3) == pytest.approx(1.0)
    assert interpolated_ap(np.array([0, 0]), 2) == 0.0
    # Hits at ranks 1 and 3 of 2 positives: precision 1 up to recall 0.5, then 2/3.
    assert interpolated_ap(np.array([1, 0, 1]), 2) == pytest.approx((51 * 1.0 + 50 * (2 / 3)) / 101)


def test_detection_figures_count_matches_and_duplicates() -> None:
    truth = [[(0, (0.1, 0.1, 0.3, 0.3))], [(0, (0.5, 0.5, 0.2, 0.2))]]
    found = [
        [(0, 0.9, (0.1, 0.1, 0.3, 0.3)), (0, 0.8, (0.11, 0.1, 0.3, 0.3))],  # a duplicate is a false positive
        [(0, 0.4, (0.5, 0.5, 0.2, 0.2))],
    ]
    overall, (tag,) = detection_figures(truth, found, 1, threshold=0.5, iou_threshold=0.5)
    assert tag.precision == pytest.approx(0.5)  # 1 of the 2 detections above 0.5 is right
    assert tag.recall == pytest.approx(0.5)
    assert overall.average_precision == pytest.approx(interpolated_ap(np.array([1, 0, 1]), 2))


@pytest.mark.parametrize("mirror_test", [False, True])
def test_exported_detector_matches_torch(mirror_test: bool) -> None:
    torch.manual_seed(0)
    cfg = DetectorConfig(num_classes=2, input_size=192, mirror_test=mirror_test)
    detector = Detector(create_backbone("efficientnet_lite0", pretrained=True, num_classes=0), cfg).eval()
    with torch.no_grad():  # a head that fires somewhere, so boxes survive
        detector.head.cls.bias.fill_(0.0)
    pixels = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (1, 192, 192, 3), dtype=np.uint8))
    with torch.no_grad():
        boxes, scores, classes = detector(pixels)
    model = OnnxModel(
        export_onnx(
            detector, pixels, output_names=["boxes", "scores", "classes"], metadata={"input_size": "192"}
        )
    )
    out = model.run_pixels(pixels.numpy())
    assert out["boxes"].shape == (1, cfg.max_detections, 4)
    keep = scores[0] > 0.05
    assert keep.any()
    np.testing.assert_allclose(out["scores"][0], scores[0].numpy(), atol=1e-4)
    # Near-tied scores may come out in another order: every box must be found on the other side.
    mine = np.concatenate([boxes[0][keep].numpy(), classes[0][keep].numpy()[:, None]], axis=1)
    exported = np.concatenate([out["boxes"][0], out["classes"][0][:, None]], axis=1)[keep.numpy()]
    assert np.abs(mine[:, None, :] - exported[None, :, :]).max(-1).min(1).max() < 1e-4
    assert (out["boxes"][0] >= 0).all() and (
        out["boxes"][0][:, :2] + out["boxes"][0][:, 2:] <= 1 + 1e-5
    ).all()


def test_mirror_test_gives_mirrored_boxes_for_a_mirrored_image() -> None:
    """Averaging with the mirror image makes the detector exactly mirror-symmetric: a wrong
    location permutation or an unswapped left/right distance breaks this."""
    torch.manual_seed(0)
    cfg = DetectorConfig(num_classes=1, input_size=128, mirror_test=True)
    detector = Detector(create_backbone("efficientnet_lite0", pretrained=True, num_classes=0), cfg).eval()
    with torch.no_grad():  # an untrained head that still varies from place to place
        for param in detector.head.parameters():
            param.normal_(0.0, 0.05)
    pixels = torch.from_numpy(np.random.default_rng(1).integers(0, 255, (1, 128, 128, 3), dtype=np.uint8))
    with torch.no_grad():
        boxes, scores, _ = detector(pixels)
        mirrored_boxes, mirrored_scores, _ = detector(pixels.flip(2))
    strong = scores[0] > scores[0, 20]  # clear of near-ties at the cut-off
    assert strong.sum() >= 10
    expected = boxes[0][strong].clone()
    expected[:, 0] = 1 - expected[:, 0] - expected[:, 2]
    found = mirrored_boxes[0][mirrored_scores[0] > scores[0, 20]]
    assert len(found) == len(expected)
    distance = (expected[:, None, :] - found[None, :, :]).abs().amax(-1)
    assert distance.amin(1).max() < 1e-4
    # And it is not symmetric by accident: without mirroring, the two disagree.
    detector.mirror = None  # the same weights without the mirror step
    with torch.no_grad():
        plain, _, _ = detector(pixels)
        plain_mirrored, _, _ = detector(pixels.flip(2))
    flipped = plain[0, :10].clone()
    flipped[:, 0] = 1 - flipped[:, 0] - flipped[:, 2]
    assert (flipped[:, None, :] - plain_mirrored[0, None, :10]).abs().amax(-1).amin(1).max() > 1e-3


def test_own_ap_matches_pycocotools_on_random_detections() -> None:
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(7)
    truth, found = [], []
    for _ in range(12):
        boxes = [
            tuple(rng.uniform(0.0, 0.5, 2)) + tuple(rng.uniform(0.1, 0.5, 2))
            for _ in range(rng.integers(1, 4))
        ]
        truth.append([(0, b) for b in boxes])
        # Jittered copies of the truth, plus clutter, with random scores.
        dets = [(0, float(rng.uniform()), tuple(np.array(b) + rng.normal(0, 0.03, 4))) for b in boxes]
        dets += [(0, float(rng.uniform()), tuple(rng.uniform(0.0, 0.5, 2)) + (0.2, 0.2)) for _ in range(3)]
        found.append(dets)
    gt = COCO()
    gt.dataset = {
        "images": [{"id": i} for i in range(len(truth))],
        "categories": [{"id": 1}],
        "annotations": [
            {
                "id": 1 + 10 * i + j,
                "image_id": i,
                "category_id": 1,
                "iscrowd": 0,
                "bbox": [v * 1000 for v in b],
                "area": b[2] * b[3] * 1e6,
            }
            for i, boxes in enumerate(truth)
            for j, (_, b) in enumerate(boxes)
        ],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(
            [
                {"image_id": i, "category_id": 1, "bbox": [v * 1000 for v in b], "score": s}
                for i, dets in enumerate(found)
                for _, s, b in dets
            ]
        )
        coco = COCOeval(gt, dt, "bbox")
        coco.evaluate()
        coco.accumulate()
        coco.summarize()
    map_50, map_50_95 = coco_maps(truth, found, 1)
    assert map_50 == pytest.approx(coco.stats[1], abs=1e-6)
    assert map_50_95 == pytest.approx(coco.stats[0], abs=1e-6)


def test_mosaics_take_their_other_images_from_the_partners_only(tmp_path: Path) -> None:
    def sample(k: int) -> DetectionSample:
        box = np.array([[0.1, 0.1, 0.3 + 0.05 * k, 0.6]], dtype=np.float32)  # its width names it
        buffer = io.BytesIO()
        white_box_image(tuple(box[0]), size=(64, 48)).save(buffer, format="PNG")
        data = buffer.getvalue()
        return DetectionSample(f"hash{k}", lambda: data, box, np.array([0]))

    samples = [sample(k) for k in range(8)]
    cfg = DetectorTrainConfig(input_size=64, views=4, mosaics=2)
    model = maps_model(cfg, BlobFeatureCache(LocalBlobStore(tmp_path)))
    partners = [0, 1, 2]
    views = embed_views(samples, cfg, model, lambda f, m: None, partners=partners)
    assert len(views.image) == len(samples) * cfg.views == len(views.maps[2])
    mosaics = [v for v in range(len(views.image)) if len(views.boxes[v]) == 4]
    assert len(mosaics) == len(samples) * cfg.mosaics
    for v in mosaics:
        widths = (views.boxes[v][:, 2] - views.boxes[v][:, 0]) * 2  # tiles are at half scale
        tiles = np.round((widths - 0.2) / 0.05).astype(int).tolist()
        assert views.image[v] in tiles
        tiles.remove(views.image[v])
        assert set(tiles) <= set(partners)
