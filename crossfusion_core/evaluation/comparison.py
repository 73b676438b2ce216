"""Models compared on the same patients: the paired bootstrap difference of their pooled C-indices.

Why: two models' separate intervals overlap long before their difference is undecided, because both are
scored on the same patients and share what is easy or hard about them. Every model of a backbone is
compared with every other on the resamples they share (:func:`paired_difference_interval`), so a claim
like "CrossFusion is below the linear probe" comes with the interval that supports or refutes it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.evaluation.bootstrap import paired_difference_interval
from crossfusion_core.evaluation.predictions import pooled_predictions, risks_by_repeat
from crossfusion_core.evaluation.settings import EvaluationSettings

DIFFERENCE_COLUMNS = ("backbone", "model", "versus", "difference", "low", "high", "se", "n_patients")
"""One row per ordered pair (model, versus): the C of ``model`` minus the C of ``versus``."""


def paired_differences(
    predictions: Mapping[tuple[str, str], Sequence[str | Path]], settings: EvaluationSettings
) -> pd.DataFrame:
    """Every pair of models on each backbone, both orders (so each model has its row against each other).

    ``predictions`` maps (model, backbone) to that run's per-fold ``predictions.csv`` files. Each pair is
    bootstrapped once: the reverse order's resamples give exactly the negated differences.
    """
    risks = {run: risks_by_repeat(pooled_predictions(paths)) for run, paths in predictions.items()}
    rows = []
    for (model, backbone), (versus, other_backbone) in itertools.combinations(risks, 2):
        if backbone == other_backbone:
            row = _difference_row(
                model, versus, backbone, risks[model, backbone], risks[versus, backbone], settings
            )
            rows += [row, _reversed(row)]
    return pd.DataFrame(rows, columns=list(DIFFERENCE_COLUMNS))


def _reversed(row: dict[str, object]) -> dict[str, object]:
    """The same pair seen from the other model: every difference, and so the interval, negated."""
    return {
        **row,
        "model": row["versus"],
        "versus": row["model"],
        "difference": -row["difference"],
        "low": -row["high"],
        "high": -row["low"],
    }


def _difference_row(
    model: str,
    versus: str,
    backbone: str,
    run: tuple[pd.DataFrame, np.ndarray],
    other: tuple[pd.DataFrame, np.ndarray],
    settings: EvaluationSettings,
) -> dict[str, object]:
    (outcomes, risk), (other_outcomes, other_risk) = run, other
    if outcomes["case_id"].tolist() != other_outcomes["case_id"].tolist():
        raise PipelineInputError(
            None,
            f"{model} and {versus} on {backbone} were scored on different patients",
            "train every model on the same splits (rerun the `splits` step and their training)",
        )
    time, event = outcomes["survival_months"].to_numpy(float), outcomes["event"].to_numpy(float)
    interval = paired_difference_interval(
        time, event, risk, other_risk, settings.bootstrap, settings.tied_tol
    )
    return {
        "backbone": backbone,
        "model": model,
        "versus": versus,
        "difference": interval.estimate,
        "low": interval.low,
        "high": interval.high,
        "se": interval.standard_error,
        "n_patients": len(outcomes),
    }
