"""Thin wrappers over scikit-survival's metrics, so every caller scores the same way.

The wrappers only fix the conventions of this project (risk: larger = earlier death; events: 1 = death
observed; times in months); the statistics themselves are the library's.
"""

from __future__ import annotations

import numpy as np
from sksurv.metrics import (
    concordance_index_censored,
    concordance_index_ipcw,
    cumulative_dynamic_auc,
    integrated_brier_score,
)
from sksurv.util import Surv


def survival_array(event: np.ndarray, time_months: np.ndarray) -> np.ndarray:
    """The structured (event, time) array scikit-survival expects."""
    return Surv.from_arrays(event=np.asarray(event).astype(bool), time=np.asarray(time_months, float))


def harrell_cindex(event: np.ndarray, time_months: np.ndarray, risk: np.ndarray, tied_tol: float) -> float:
    """Harrell's C: share of comparable pairs whose earlier death has the larger risk."""
    result = concordance_index_censored(
        np.asarray(event).astype(bool), np.asarray(time_months, float), np.asarray(risk, float), tied_tol
    )
    return float(result[0])


def uno_cindex(
    train: np.ndarray, test: np.ndarray, risk: np.ndarray, tau_months: float, tied_tol: float
) -> float:
    """Uno's C: Harrell's C reweighted by the inverse censoring probability, truncated at ``tau_months``.

    The censoring distribution is estimated on ``train``, so it must cover the test patients' times.
    """
    result = concordance_index_ipcw(train, test, np.asarray(risk, float), tau=tau_months, tied_tol=tied_tol)
    return float(result[0])


def time_dependent_auc(
    train: np.ndarray, test: np.ndarray, risk: np.ndarray, times_months: np.ndarray
) -> tuple[np.ndarray, float]:
    """Cumulative/dynamic AUC at each time and its survival-weighted mean over the times."""
    aucs, mean_auc = cumulative_dynamic_auc(train, test, np.asarray(risk, float), times_months)
    return np.asarray(aucs, float), float(mean_auc)


def integrated_brier(
    train: np.ndarray, test: np.ndarray, survival_at_times: np.ndarray, times_months: np.ndarray
) -> float:
    """Integrated Brier score of predicted survival probabilities at ``times_months`` (lower is better)."""
    return float(integrated_brier_score(train, test, survival_at_times, times_months))
