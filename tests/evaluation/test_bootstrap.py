"""Bootstrap intervals of pooled C-indices, checked against cases whose bootstrap distribution is known.

The three-patient cohort (times 1, 2, 3, every death observed) is worked out by hand: of its 27 equally
likely resamples, 3 draw one patient only (no comparable pair: undefined), 6 draw each pair of distinct
patients and 6 draw all three. With risks (3, 1, 2) the pairs {1, 2} and {1, 3} are concordant (C = 1),
{2, 3} is discordant (C = 0) and the whole cohort has C = 2/3; so the defined resamples give 0 with
probability 1/4, 2/3 with 1/4 and 1 with 1/2: standard error sqrt(1/6), 95% interval [0, 1], and the
40% interval (30th to 70th percentile) [2/3, 1].
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from crossfusion_core.evaluation.bootstrap import (
    BootstrapSettings,
    cindex_interval,
    paired_difference_interval,
    uno_cindex_interval,
)
from crossfusion_core.evaluation.survival_metrics import survival_array, uno_cindex

TIED_TOL = 1e-8
TIME = np.array([1.0, 2.0, 3.0])
ALL_DEATHS = np.ones(3)
HAND_RISK = np.array([3.0, 1.0, 2.0])


def test_a_perfectly_ranked_cohort_has_the_interval_one_to_one() -> None:
    rng = np.random.default_rng(0)
    time = rng.exponential(10.0, 60)
    event = (rng.random(60) < 0.7).astype(float)
    interval = cindex_interval(time, event, -time, BootstrapSettings(500), TIED_TOL)
    assert (interval.estimate, interval.low, interval.high, interval.standard_error) == (1.0, 1.0, 1.0, 0.0)


def test_a_constant_risk_scores_one_half_in_every_resample() -> None:
    time = np.arange(1.0, 31.0)
    interval = cindex_interval(time, np.ones(30), np.zeros(30), BootstrapSettings(300), TIED_TOL)
    assert (interval.estimate, interval.low, interval.high) == (0.5, 0.5, 0.5)


def test_the_three_patient_cohort_matches_its_bootstrap_distribution_worked_by_hand() -> None:
    settings = BootstrapSettings(n_resamples=4000, seed=3)
    wide = cindex_interval(TIME, ALL_DEATHS, HAND_RISK, settings, TIED_TOL)
    assert wide.estimate == pytest.approx(2 / 3)
    assert (wide.low, wide.high) == (0.0, 1.0)
    assert wide.standard_error == pytest.approx(math.sqrt(1 / 6), abs=0.02)
    assert wide.undefined_resamples / settings.n_resamples == pytest.approx(1 / 9, abs=0.02)
    narrow = cindex_interval(
        TIME, ALL_DEATHS, HAND_RISK, BootstrapSettings(4000, confidence_level=0.4, seed=3), TIED_TOL
    )
    assert (narrow.low, narrow.high) == (pytest.approx(2 / 3), 1.0)


def test_a_paired_difference_follows_the_resamples_both_models_share() -> None:
    """Risks (2, 3, 1) also give C = 2/3, but from the other pairs: {1, 2} discordant, {1, 3} and {2, 3}
    concordant. Per resample the difference is 1 ({1, 2}), 0 ({1, 3}, and the whole cohort) or -1
    ({2, 3}): probabilities 1/4, 1/2, 1/4; estimate 0, 95% interval [-1, 1], standard error sqrt(1/2)."""
    other_risk = np.array([2.0, 3.0, 1.0])
    settings = BootstrapSettings(n_resamples=4000, seed=5)
    interval = paired_difference_interval(TIME, ALL_DEATHS, HAND_RISK, other_risk, settings, TIED_TOL)
    assert interval.estimate == 0.0
    assert (interval.low, interval.high) == (-1.0, 1.0)
    assert interval.standard_error == pytest.approx(math.sqrt(1 / 2), abs=0.02)


def test_a_model_against_itself_differs_by_exactly_zero() -> None:
    rng = np.random.default_rng(1)
    time, risk = rng.exponential(10.0, 40), rng.normal(size=40)
    interval = paired_difference_interval(time, np.ones(40), risk, risk, BootstrapSettings(300), TIED_TOL)
    assert (interval.estimate, interval.low, interval.high) == (0.0, 0.0, 0.0)
    assert not interval.excludes(0.0)


def test_repeats_are_averaged_within_every_resample() -> None:
    """One repeat ranks perfectly, the other exactly backwards: every resample averages to 1/2."""
    time = np.arange(1.0, 41.0)
    risks = np.stack([-time, time])
    interval = cindex_interval(time, np.ones(40), risks, BootstrapSettings(300), TIED_TOL)
    assert (interval.estimate, interval.low, interval.high) == (0.5, 0.5, 0.5)


def test_the_interval_is_reproducible_from_its_seed_and_moves_with_it() -> None:
    rng = np.random.default_rng(2)
    time, risk = rng.exponential(10.0, 50), rng.normal(size=50)
    event = np.ones(50)
    first, again = (
        cindex_interval(time, event, risk, BootstrapSettings(400, seed=7), TIED_TOL) for _ in "ab"
    )
    other = cindex_interval(time, event, risk, BootstrapSettings(400, seed=8), TIED_TOL)
    assert first == again
    assert (first.low, first.high) != (other.low, other.high)


def test_a_cohort_without_a_death_has_no_interval() -> None:
    interval = cindex_interval(TIME, np.zeros(3), HAND_RISK, BootstrapSettings(200), TIED_TOL)
    assert math.isnan(interval.estimate) and math.isnan(interval.low) and math.isnan(interval.high)


def test_unos_c_of_a_whole_cohort_weighs_by_its_own_censoring() -> None:
    rng = np.random.default_rng(1)
    risk = rng.normal(size=50)
    death, censor = rng.exponential(10 * np.exp(-risk)), rng.exponential(15.0, 50)
    time, event = np.minimum(death, censor), (death <= censor).astype(float)
    interval = uno_cindex_interval(time, event, risk, BootstrapSettings(300), TIED_TOL)
    outcomes = survival_array(event, time)
    assert interval.estimate == uno_cindex(outcomes, outcomes, risk, float(time.max()), TIED_TOL)
    assert 0.5 < interval.low < interval.estimate < interval.high < 1.0
    perfect = uno_cindex_interval(time, event, -time, BootstrapSettings(300), TIED_TOL)
    assert (perfect.estimate, perfect.low, perfect.high) == (1.0, 1.0, 1.0)
