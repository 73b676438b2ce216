"""Scoring a model's cross-validated predictions: per fold, mean +/- std over folds, and pooled.

A metric a fold cannot support (no events, evaluation times outside the follow-up, ...) is reported as
missing with the reason in a ``*_note`` column, because a small fold is a fact about the data, not a
crash of the pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.evaluation.bootstrap import Interval, cindex_interval
from crossfusion_core.evaluation.predictions import hazard_columns, pooled_predictions, risks_by_repeat
from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.evaluation.survival_metrics import (
    harrell_cindex,
    integrated_brier,
    survival_array,
    time_dependent_auc,
    uno_cindex,
)
from crossfusion_core.io import write_csv, write_json
from crossfusion_core.models.checkpoint import read_checkpoint_info

FOLD_METRICS = ("harrell_cindex", "uno_cindex", "mean_auc", "integrated_brier_score", "oracle_cindex")
STD_DEFINITION = "sample standard deviation over folds (ddof=1)"
TAU_DEFINITION = (
    "Uno's C is truncated at tau = min(last follow-up among the fold's training patients, last follow-up "
    "in the fold): the longest horizon over which the censoring distribution, estimated on the training "
    "patients (the other folds), is defined for every held-out patient"
)
INTERVAL_DEFINITION = (
    "pooled C-indices carry a {level:.0%} percentile bootstrap interval (`*_low`, `*_high`) and standard "
    "error (`*_se`) from {n} resamples of the patients with replacement"
)
TIMES_DEFINITION = (
    "time-dependent AUC and integrated Brier score are evaluated at the interior time-bin edges of the "
    "fold's checkpoint that lie inside the held-out follow-up and the training follow-up; the survival "
    "probability at edge j is the product of (1 - hazard) over the bins before it"
)


def attempt(compute: Callable[[], float]) -> tuple[float, str]:
    """Run a library metric; a ValueError (the libraries' way to refuse a fold) becomes a note."""
    try:
        return compute(), ""
    except ValueError as exc:
        return float("nan"), str(exc)


def bin_edges_from_checkpoint(path: str | Path) -> np.ndarray | None:
    """The time-bin edges (months) stored with a fold's model, or None when the checkpoint lacks them."""
    edges = read_checkpoint_info(path).bin_edges
    return None if edges is None else np.asarray(edges, dtype=float)


@dataclass(frozen=True)
class EvaluationTimes:
    """Interior bin edges usable as evaluation times, their edge indices, and why others were dropped."""

    months: np.ndarray
    edge_index: np.ndarray
    note: str

    def require(self, at_least: int) -> np.ndarray:
        """The times, or the reason there are too few of them as the error the caller turns into a note."""
        if self.months.size < at_least:
            raise ValueError(self.note or f"needs {at_least} evaluation times, has {self.months.size}")
        return self.months


def evaluation_times(
    edges_months: np.ndarray | None, test_time: np.ndarray, train_time: np.ndarray
) -> EvaluationTimes:
    """The interior edges inside both the held-out and the training follow-up."""
    if edges_months is None:
        return EvaluationTimes(np.empty(0), np.empty(0, int), "checkpoint has no bin edges")
    interior = np.asarray(edges_months[1:-1], float)
    usable = (interior >= test_time.min()) & (interior < test_time.max()) & (interior < train_time.max())
    dropped = interior[~usable]
    note = f"edges {np.round(dropped, 3).tolist()} outside the follow-up" if dropped.size else ""
    return EvaluationTimes(interior[usable], np.flatnonzero(usable), note)


def survival_at_interior_edges(fold: pd.DataFrame) -> np.ndarray:
    """Predicted probability of surviving past each bin (the value at the bin's upper edge)."""
    hazards = fold[hazard_columns(fold)].to_numpy(float)
    return np.cumprod(1.0 - hazards, axis=1)[:, :-1]


def require_censoring_coverage(train_time: np.ndarray, fold: pd.DataFrame) -> None:
    """IPCW metrics weight each held-out death by the training censoring survival at its time."""
    last_train = train_time.max()
    late = fold.loc[(fold["survival_months"] > last_train) & (fold["event"] == 1), "case_id"]
    if not late.empty:
        raise ValueError(
            f"deaths of {late.tolist()[:3]} fall after the last training follow-up ({last_train:.4g} months)"
        )


def auc_metric(train: np.ndarray, test: np.ndarray, fold: pd.DataFrame, times: EvaluationTimes) -> float:
    """Mean cumulative/dynamic AUC over the times that have both a case and a control."""
    months = times.require(1)
    require_censoring_coverage(train["time"], fold)
    time, event = fold["survival_months"].to_numpy(float), fold["event"].to_numpy(bool)
    has_pairs = [bool(((time <= t) & event).any() and (time > t).any()) for t in months]
    if not any(has_pairs):
        raise ValueError("no evaluation time has both a death before it and a patient alive after it")
    return time_dependent_auc(train, test, fold["risk"].to_numpy(float), months[has_pairs])[1]


def brier_metric(train: np.ndarray, test: np.ndarray, fold: pd.DataFrame, times: EvaluationTimes) -> float:
    """Integrated Brier score of the discrete survival curves at the usable bin edges (two at least)."""
    months = times.require(2)
    require_censoring_coverage(train["time"], fold)
    survival = survival_at_interior_edges(fold)[:, times.edge_index]
    return integrated_brier(train, test, survival, months)


def fold_metrics(
    fold: pd.DataFrame,
    train: pd.DataFrame,
    edges_months: np.ndarray | None,
    true_risk: pd.Series | None,
    settings: EvaluationSettings,
) -> dict[str, Any]:
    """Every metric the fold supports, with a note for each one it does not."""
    time, event, risk = (fold[c].to_numpy(float) for c in ("survival_months", "event", "risk"))
    train_time = train["survival_months"].to_numpy(float)
    train_y, test_y = survival_array(train["event"], train_time), survival_array(event, time)
    tau = float(min(train_time.max(), time.max()))
    times = evaluation_times(edges_months, time, train_time)
    row: dict[str, Any] = {"row": "fold", "fold": int(fold["fold"].iloc[0]), "n_patients": len(fold)}
    row["n_events"] = int(event.sum())
    row["uno_tau_months"] = tau
    row["eval_times_months"] = ";".join(f"{t:.4g}" for t in times.months)
    results = {
        "harrell_cindex": attempt(lambda: harrell_cindex(event, time, risk, settings.tied_tol)),
        "uno_cindex": attempt(lambda: uno_cindex(train_y, test_y, risk, tau, settings.tied_tol)),
        "mean_auc": attempt(lambda: auc_metric(train_y, test_y, fold, times)),
        "integrated_brier_score": attempt(lambda: brier_metric(train_y, test_y, fold, times)),
        "oracle_cindex": (float("nan"), "no true risk (real cohort)")
        if true_risk is None
        else attempt(lambda: harrell_cindex(event, time, true_risk.loc[fold["case_id"]], settings.tied_tol)),
    }
    for name, (value, note) in results.items():
        row[name], row[f"{name}_note"] = value, note
    return row


def read_true_risk(path: str | Path, case_ids: pd.Series) -> pd.Series:
    """The synthetic cohort's true log-hazard per patient, for every patient that has a prediction."""
    path = Path(path)
    if not path.is_file():
        raise PipelineInputError(path, "true-risk file does not exist", "rerun the synthetic cohort")
    table = pd.read_csv(path, dtype={"case_id": str}).set_index("case_id")["true_risk"]
    missing = sorted(set(case_ids) - set(table.index))
    if missing:
        raise PipelineInputError(path, f"no true risk for patients {missing[:5]}", "rerun the cohort")
    return table


def summary_rows(folds: pd.DataFrame) -> list[dict[str, Any]]:
    """Mean and sample std (ddof=1) over the folds where each metric exists."""
    rows = []
    for statistic in ("mean", "std"):
        row: dict[str, Any] = {"row": statistic}
        for name in FOLD_METRICS:
            values = folds[name].dropna()
            row[name] = values.mean() if statistic == "mean" else values.std(ddof=1)
            row[f"{name}_note"] = f"over {len(values)} of {len(folds)} folds"
        rows.append(row)
    return rows


def pooled_row(
    pooled: pd.DataFrame, true_risk: pd.Series | None, settings: EvaluationSettings
) -> dict[str, Any]:
    """Harrell's C of all out-of-fold risks together (each from the model that never saw the patient),
    with its bootstrap interval; under repeated cross-validation the mean over repeats of each repeat's
    pooled C. On a synthetic cohort also the oracle's C (the planted risk) and the Spearman correlation
    of the out-of-fold risks with the planted risk (mean over repeats; one-sided p, the largest over
    repeats), which says how well the model recovers the risk, not only its order on observed deaths.

    Risks of different fold models share no common scale; the per-fold C does not need one.
    """
    outcomes, risks = risks_by_repeat(pooled)
    time, event = outcomes["survival_months"].to_numpy(float), outcomes["event"].to_numpy(float)
    row = {
        "row": "pooled",
        "n_patients": len(outcomes),
        "n_events": int(event.sum()),
        "n_repeats": len(risks),
    }
    row.update(
        interval_columns(
            "harrell_cindex", cindex_interval(time, event, risks, settings.bootstrap, settings.tied_tol)
        )
    )
    if true_risk is not None:
        truth = true_risk.loc[outcomes["case_id"]].to_numpy(float)
        oracle = cindex_interval(time, event, truth, settings.bootstrap, settings.tied_tol)
        row.update(interval_columns("oracle_cindex", oracle))
        correlations = [spearmanr(repeat, truth, alternative="greater") for repeat in risks]
        row["spearman_true_risk"] = float(np.mean([c.statistic for c in correlations]))
        row["spearman_true_risk_p"] = float(max(c.pvalue for c in correlations))
    return row


def interval_columns(name: str, interval: Interval) -> dict[str, Any]:
    """``name`` (the estimate), ``name_low``/``_high`` (the interval), ``name_se`` and ``name_note``."""
    note = "" if math.isfinite(interval.estimate) else "no comparable pair (no death observed?)"
    return {
        name: interval.estimate,
        f"{name}_low": interval.low,
        f"{name}_high": interval.high,
        f"{name}_se": interval.standard_error,
        f"{name}_note": note,
    }


def metrics_payload(
    folds: pd.DataFrame, pooled: dict[str, Any], settings: EvaluationSettings
) -> dict[str, Any]:
    """The JSON summary: per-metric mean/std over folds, pooled values, definitions, per-fold rows."""
    summary = {
        name: {
            "mean": _finite_or_none(folds[name].mean()),
            "std": _finite_or_none(folds[name].std(ddof=1)),
            "n_folds": int(folds[name].notna().sum()),
        }
        for name in FOLD_METRICS
    }
    return {
        "n_folds": len(folds),
        "std": STD_DEFINITION,
        "uno_tau": TAU_DEFINITION,
        "evaluation_times": TIMES_DEFINITION,
        "interval": INTERVAL_DEFINITION.format(
            level=settings.confidence_level, n=settings.bootstrap_resamples
        ),
        "metrics": summary,
        "pooled": {k: _finite_or_none(v) for k, v in pooled.items() if k != "row"},
        "folds": [{k: _finite_or_none(v) for k, v in r.items()} for r in folds.to_dict("records")],
    }


def _finite_or_none(value: Any) -> Any:
    """NaN is not JSON; a missing metric is written as null."""
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value.item() if isinstance(value, np.generic) else value


def evaluate_predictions(
    prediction_csvs: Sequence[str | Path],
    settings: EvaluationSettings,
    true_risk_csv: str | Path | None,
    out_csv: str | Path,
    out_json: str | Path,
    checkpoints: Sequence[str | Path] | None = None,
) -> dict[str, Any]:
    """Write per-fold and summary metrics of one model x backbone; return the JSON payload.

    ``checkpoints`` (each fold's ``model.pt``, same order as ``prediction_csvs``) supply the time-bin
    edges needed for the time-dependent AUC and the integrated Brier score; without them those two are
    reported as missing. The censoring distribution of a fold is estimated on the other folds' patients
    (its training patients); a lone fold falls back to its own patients.
    """
    if checkpoints is not None and len(checkpoints) != len(prediction_csvs):
        raise PipelineInputError(
            None,
            f"{len(checkpoints)} checkpoints for {len(prediction_csvs)} prediction files",
            "pass one model.pt per fold, in the order of the predictions",
        )
    pooled = pooled_predictions(prediction_csvs)
    true_risk = None if true_risk_csv is None else read_true_risk(true_risk_csv, pooled["case_id"])
    edges = [bin_edges_from_checkpoint(p) for p in checkpoints or []] or [None] * len(prediction_csvs)
    rows = []
    for fold_id, edges_months in zip(pooled["fold"].unique(), edges, strict=True):
        fold = pooled[pooled["fold"] == fold_id]
        same_repeat = pooled[pooled["repeat"] == fold["repeat"].iloc[0]]
        others = same_repeat[same_repeat["fold"] != fold_id]
        train = fold if others.empty else others
        row = fold_metrics(fold, train, edges_months, true_risk, settings)
        row["censoring_from"] = "this fold (no other folds)" if others.empty else "other folds"
        rows.append(row)
    folds = pd.DataFrame(rows)
    pooled_summary = pooled_row(pooled, true_risk, settings)
    table = pd.concat([folds, pd.DataFrame([*summary_rows(folds), pooled_summary])])
    write_csv(out_csv, table.astype({c: "Int64" for c in ("fold", "n_patients", "n_events", "n_repeats")}))
    payload = metrics_payload(folds, pooled_summary, settings)
    write_json(out_json, payload)
    return payload
