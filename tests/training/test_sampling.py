"""The order a fold visits its training patients in: every patient once, strata spread, no favourite."""

from __future__ import annotations

import numpy as np

from crossfusion_core.training.sampling import (
    epoch_order,
    stratified_permutation,
    weighted_replacement_order,
)

# Fold 0 of the old demo had one patient alone in its stratum: the case that made a favourite.
STRATA = np.array([0] * 12 + [1] * 9 + [2] * 6 + [3] * 4 + [5])


def test_every_patient_is_visited_exactly_once_per_epoch() -> None:
    for epoch in range(5):
        order = stratified_permutation(STRATA, seed=0, epoch=epoch)
        assert sorted(order.tolist()) == list(range(len(STRATA)))


def test_each_window_holds_the_strata_in_about_their_proportions() -> None:
    """Each stratum's members sit one stratum-share apart: the 12-patient stratum fills every window of 8
    with 2 to 4 of its members (3 expected), never 0 or all 8 as a plain shuffle can."""
    for epoch in range(20):
        order = stratified_permutation(STRATA, seed=1, epoch=epoch)
        for start in range(0, 32, 8):
            in_window = int((STRATA[order[start : start + 8]] == 0).sum())
            assert 2 <= in_window <= 4


def test_the_order_is_a_pure_function_of_seed_and_epoch() -> None:
    first = stratified_permutation(STRATA, seed=3, epoch=2)
    assert np.array_equal(first, stratified_permutation(STRATA, seed=3, epoch=2))
    assert not np.array_equal(first, stratified_permutation(STRATA, seed=3, epoch=3))
    assert not np.array_equal(first, stratified_permutation(STRATA, seed=4, epoch=2))


def test_the_original_weighted_draw_favours_the_lone_patient_and_skips_others() -> None:
    """What the stratified permutation replaces, measured: over 100 epochs the patient alone in its
    stratum is drawn about N / 5 strata = 6.4 times per epoch, and some patients not at all."""
    draws = np.stack([weighted_replacement_order(STRATA, seed=0, epoch=e) for e in range(100)])
    lone = len(STRATA) - 1
    assert 5.0 < (draws == lone).sum() / 100 < 8.0
    missed_per_epoch = [len(STRATA) - len(np.unique(row)) for row in draws]
    assert np.mean(missed_per_epoch) > 8


def test_the_setting_chooses_the_sampler() -> None:
    assert np.array_equal(
        epoch_order(STRATA, "weighted_replacement", 0, 1), weighted_replacement_order(STRATA, 0, 1)
    )
    assert np.array_equal(
        epoch_order(STRATA, "stratified_permutation", 0, 1), stratified_permutation(STRATA, 0, 1)
    )
