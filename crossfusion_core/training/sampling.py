"""Which patients a fold trains on, in which order, and which it keeps aside for model selection.

Both draws are pure functions of a seed (and the epoch), never of a global random state, so that a
rerun, or a run resumed half way, visits patients in exactly the same order.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from sklearn.model_selection import train_test_split

LOGGER = logging.getLogger(__name__)


def balanced_epoch_order(strata: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """Indices of one epoch: ``len(strata)`` draws with replacement, each class equally likely overall.

    A patient's weight is ``N / size of its stratum`` (stratum = time bin x censorship), as in the
    original study's weighted sampler, so rare classes (e.g. early deaths) are seen as often as common
    ones. ``seed`` and ``epoch`` fully determine the draw.
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
