"""The uncertainty measures: their ends, their order, and the cases that are easy to get wrong."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tagsight.vision.uncertainty import (
    binary_entropy,
    detection_uncertainty,
    multiclass_uncertainty,
    multilabel_uncertainty,
)


def test_binary_entropy_in_bits() -> None:
    assert binary_entropy(0.5) == pytest.approx(1.0)
    assert binary_entropy(0.0) == 0.0 and binary_entropy(1.0) == 0.0
    assert binary_entropy(0.1) == pytest.approx(-(0.1 * math.log2(0.1) + 0.9 * math.log2(0.9)))
    assert binary_entropy(0.2) == pytest.approx(binary_entropy(0.8))


def test_multiclass_is_normalised_entropy() -> None:
    p = np.array(
        [
            [1.0, 0.0, 0.0],  # certain
            [1 / 3, 1 / 3, 1 / 3],  # no idea
            [0.5, 0.5, 0.0],  # torn between two of three
            [0.8, 0.1, 0.1],
        ]
    )
    u = multiclass_uncertainty(p)
    assert u[0] == pytest.approx(0.0, abs=1e-9)
    assert u[1] == pytest.approx(1.0)
    assert u[2] == pytest.approx(math.log(2) / math.log(3))
    expected = -(0.8 * math.log(0.8) + 2 * 0.1 * math.log(0.1)) / math.log(3)
    assert u[3] == pytest.approx(expected)


def test_multiclass_does_not_depend_on_the_number_of_tags_at_the_extremes() -> None:
    for classes in (2, 5, 40):
        uniform = np.full((1, classes), 1 / classes)
        assert multiclass_uncertainty(uniform)[0] == pytest.approx(1.0)


def test_multiclass_tolerates_rounding_in_the_model_output() -> None:
    u = multiclass_uncertainty(np.array([[0.5000001, 0.5000001], [1.0000002, -1e-7]]))
    assert 0.0 <= u.min() and u.max() <= 1.0
    assert u[0] == pytest.approx(1.0)


def test_multilabel_is_mean_binary_entropy() -> None:
    p = np.array(
        [
            [0.99, 0.01, 0.01],
            [0.5, 0.5, 0.5],
            [0.5, 0.0, 0.0],  # one undecided tag of three
            [0.9, 0.9, 0.9],  # three fairly sure "yes": not the same as certain
        ]
    )
    u = multilabel_uncertainty(p)
    assert u[1] == pytest.approx(1.0)
    assert u[2] == pytest.approx(1 / 3)
    assert u[3] == pytest.approx(float(binary_entropy(0.9)))
    assert u[0] < u[2] < u[3] < u[1]


def test_multilabel_differs_from_softmax_entropy() -> None:
    # Two independent sigmoids both at 0.5 are maximal doubt; as a distribution over two
    # classes the same numbers would also be maximal, but (0.9, 0.9) is only doubt for multilabel
    # (both tags present is a confident answer there), whereas multiclass renormalises it to
    # a coin toss.
    p = np.array([[0.9, 0.9]])
    assert multilabel_uncertainty(p)[0] == pytest.approx(float(binary_entropy(0.9)))
    assert multiclass_uncertainty(p)[0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([], 1.0),  # nothing found: the object was missed
        ([0.02], 0.98),  # only a faint guess
        ([0.99], 0.01),  # one sure box
        ([0.99, 0.5], 1 - 0.99 * 0.5),  # a sure box and a coin toss
        ([0.9, 0.8], 1 - 0.9 * 0.8),  # two objects, both fairly sure
        ([0.9, 0.35], 1 - 0.9 * 0.65),  # a second box that is more likely nothing than not
        ([0.9, 0.2, 0.15, 0.12], 0.1),  # background noise below 0.3 is not a decision
        ([0.3, 0.95], 1 - 0.95 * 0.7),  # any order
    ],
)
def test_detection_uncertainty(scores: list[float], expected: float) -> None:
    assert detection_uncertainty(scores) == pytest.approx(expected)


def test_detection_orders_images_as_a_labeller_would() -> None:
    sure = detection_uncertainty([0.97, 0.03])
    second_box_in_doubt = detection_uncertainty([0.97, 0.45])
    weak_best = detection_uncertainty([0.35])
    nothing = detection_uncertainty([])
    assert sure < second_box_in_doubt
    assert sure < weak_best <= nothing
    assert 0.0 <= sure and nothing == 1.0
    # Many noisy boxes do not make a sure image look unsure.
    assert detection_uncertainty([0.97] + [0.15] * 100) == pytest.approx(sure)
