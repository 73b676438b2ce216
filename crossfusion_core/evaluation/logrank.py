"""The log-rank test between risk groups, as lifelines computes it."""

from __future__ import annotations

import numpy as np
from lifelines.statistics import logrank_test, multivariate_logrank_test


def logrank_p_value(time_months: np.ndarray, event: np.ndarray, groups: np.ndarray) -> float:
    """P-value that all groups share one survival curve (two groups: the classic two-sample test)."""
    time_months, event, groups = np.asarray(time_months, float), np.asarray(event), np.asarray(groups)
    labels = np.unique(groups)
    if labels.size < 2:
        raise ValueError(f"the log-rank test needs two groups or more, got {labels.tolist()}")
    if labels.size == 2:
        first, second = groups == labels[0], groups == labels[1]
        result = logrank_test(
            time_months[first],
            time_months[second],
            event_observed_A=event[first],
            event_observed_B=event[second],
        )
    else:
        result = multivariate_logrank_test(time_months, groups, event)
    return float(result.p_value)
