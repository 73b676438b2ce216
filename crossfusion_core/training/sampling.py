"""Which patients a fold trains on, in which order, and which it keeps aside for model selection.

``training.sampling``: ``stratified_permutation`` (default) visits every training item once per epoch,
the strata spread evenly; ``weighted_replacement`` is the original study's class-balanced sampler.

Both draws are pure functions of a seed (and the epoch), never of a global random state, so that a
rerun, or a run resumed half way, visits patients in exactly the same order.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from sklearn.model_selection import train_test_split

LOGGER = logging.getLogger(__name__)


def epoch_order(strata: np.ndarray, sampling: str, seed: int, epoch: int) -> np.ndarray:
    """Indices of one epoch under ``training.sampling`` (see the two functions below)."""
    if sampling == "weighted_replacement":
        return weighted_replacement_order(strata, seed, epoch)
    return stratified_permutation(strata, seed, epoch)


def stratified_permutation(strata: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """Every item exactly once per epoch, the strata (time bin x censorship) spread evenly through it.

    Each item's place is its rank inside its own stratum, shuffled, as a fraction of the stratum's size
    (plus a random offset below one place), so any stretch of the epoch, e.g. one optimiser step's
    window, holds the strata in about their proportions. Unlike drawing with replacement no item is
    favoured: the original's weighted sampler gave one patient alone in its stratum 1/7 of a fold's
    draws and left about 12 of 32 patients out of a given epoch.
    """
    rng = np.random.default_rng([seed, epoch])
    places = np.empty(len(strata))
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        places[members] = (rng.permutation(len(members)) + rng.random(len(members))) / len(members)
    return np.argsort(places, kind="stable")


def weighted_replacement_order(strata: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """Indices of one epoch: ``len(strata)`` draws with replacement, each class equally likely overall.

    A patient's weight is ``N / size of its stratum`` (stratum = time bin x censorship), as in the
    original study's weighted sampler, so rare classes (e.g. early deaths) are seen as often as common
    ones, and a patient alone in its stratum is seen as often as a whole common class. ``seed`` and
    ``epoch`` fully determine the draw.
    """
    _, inverse, counts = np.unique(strata, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse]
    rng = np.random.default_rng([seed, epoch])
    return rng.choice(len(strata), size=len(strata), replace=True, p=weights / weights.sum())


MIN_INNER_VALIDATION = 2
"""Patients an inner validation split needs at the least: a C-index needs one comparable pair."""


def inner_validation_split(
    strata: np.ndarray, censorship: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, inner-validation rows) of a training fold, stratified on time bin x censorship.

    Small folds can have strata too small to split; the stratification then falls back to censorship
    alone (keeping deaths on both sides, which the C-index needs), and only then to none.
    """
    rows = np.arange(len(strata))
    n_val = max(MIN_INNER_VALIDATION, math.ceil(fraction * len(rows)))
    for labels in (strata, censorship, None):
        try:
            fit_rows, val_rows = train_test_split(rows, test_size=n_val, random_state=seed, stratify=labels)
        except ValueError:
            continue
        if labels is not strata:
            fallback = "censorship only" if labels is not None else "nothing"
            LOGGER.warning("inner validation split: strata too small, stratified on %s", fallback)
        return np.sort(fit_rows), np.sort(val_rows)
    raise ValueError(f"cannot carve an inner validation split of {fraction} from {len(strata)} patients")
