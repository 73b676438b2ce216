"""Kaplan-Meier curves of patients grouped by their out-of-fold predicted risk.

Each fold's model has its own risk scale, so pooling the held-out risks of all folds and cutting them at
one median mixes scales (a fold whose model predicts high for everyone fills the high-risk group).
Instead, as survival papers do, each held-out patient is placed by its own fold's cut-offs: the median
(or tertiles) of the risks that fold's model gives its training patients. The curves, bands, censor marks,
at-risk table, log-rank test and restricted mean survival times are lifelines'.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.plotting import add_at_risk_counts
from lifelines.utils import restricted_mean_survival_time
from matplotlib.figure import Figure

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.evaluation.logrank import logrank_p_value
from crossfusion_core.evaluation.predictions import pooled_predictions
from crossfusion_core.io import write_json
from crossfusion_core.plots.figures import save_figure
from crossfusion_core.plots.settings import KmSettings

GROUP_NAMES = {2: ("low risk", "high risk"), 3: ("low risk", "intermediate risk", "high risk")}
CUT_NAMES = {2: "median", 3: "tertiles"}


def read_training_risks(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Every fold's training-patient risks (``case_id, risk, fold``), checked."""
    frames = []
    for path in map(Path, paths):
        if not path.is_file():
            raise PipelineInputError(path, "training risks do not exist", "rerun the training of this fold")
        frame = pd.read_csv(path, dtype={"case_id": str})
        if not {"risk", "fold"} <= set(frame.columns) or frame.empty:
            raise PipelineInputError(path, "not a training_risks.csv with risk and fold", "rerun training")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def fold_cut_offs(training: pd.DataFrame, n_groups: int) -> dict[int, np.ndarray]:
    """Per fold, the quantiles of its training patients' risks that separate the groups."""
    levels = np.arange(1, n_groups) / n_groups
    return {int(fold): np.quantile(frame["risk"], levels) for fold, frame in training.groupby("fold")}


def fold_risk_groups(pooled: pd.DataFrame, cut_offs: dict[int, np.ndarray], n_groups: int) -> np.ndarray:
    """Group name per held-out patient, by the cut-offs of the fold that held it out."""
    missing = sorted(set(pooled["fold"].astype(int)) - set(cut_offs))
    if missing:
        raise PipelineInputError(None, f"no training risks for fold(s) {missing}", "rerun their training")
    index = [
        int(np.searchsorted(cut_offs[int(fold)], risk, side="right"))
        for fold, risk in zip(pooled["fold"], pooled["risk"], strict=True)
    ]
    return np.asarray(GROUP_NAMES[n_groups], dtype=object)[index]


def rule_text(n_groups: int) -> str:
    return f"each patient cut at its own fold's training-patient risk {CUT_NAMES[n_groups]}"


def km_figure(
    pooled: pd.DataFrame,
    groups: np.ndarray,
    settings: KmSettings,
    p_value: float,
    heading: str = "Out-of-fold risk groups",
    rule: str | None = None,
) -> Figure:
    """Curves with confidence bands and censor marks, and the numbers at risk under the axis; the title
    names the patients (``heading``), the test and how the groups were cut (``rule``, else per fold)."""
    figure = Figure(figsize=(7.0, 5.7))
    ax = figure.add_subplot()
    fitters = [_fitter(pooled, groups, name, settings) for name in _present(groups, settings.n_groups)]
    for fitter in fitters:
        fitter.plot_survival_function(ax=ax, ci_show=True, show_censors=True)
    add_at_risk_counts(*fitters, ax=ax, fig=figure, rows_to_show=["At risk"])
    ax.set_xlabel("months")
    ax.set_ylabel("survival probability")
    ax.set_ylim(0.0, 1.05)
    test = "log-rank" if settings.n_groups == 2 else "multivariate log-rank"
    ax.set_title(
        f"{heading} (n = {len(pooled)}): {test} p = {p_value:.3g}\n"
        f"groups: {rule or rule_text(settings.n_groups)}",
        fontsize=10,
    )
    return figure


def _present(groups: np.ndarray, n_groups: int) -> list[str]:
    return [name for name in GROUP_NAMES[n_groups] if (groups == name).any()]


def _fitter(pooled: pd.DataFrame, groups: np.ndarray, name: str, settings: KmSettings) -> KaplanMeierFitter:
    members = groups == name
    fitter = KaplanMeierFitter(alpha=1.0 - settings.confidence_level)
    return fitter.fit(pooled.loc[members, "survival_months"], pooled.loc[members, "event"], label=name)


def km_summary(pooled: pd.DataFrame, groups: np.ndarray, settings: KmSettings, p_value: float) -> dict:
    """What the figure shows, as numbers: per group size, deaths, median survival and the restricted
    mean survival time up to the shortest group's last follow-up (RMST), and whether the curves are
    ordered as the risks say (high risk surviving less)."""
    names = _present(groups, settings.n_groups)
    horizon = min(pooled.loc[groups == name, "survival_months"].max() for name in names)
    per_group = {}
    for name in names:
        fitter = _fitter(pooled, groups, name, settings)
        per_group[name] = {
            "n": int((groups == name).sum()),
            "deaths": int(pooled.loc[groups == name, "event"].sum()),
            "median_survival_months": _finite_or_none(fitter.median_survival_time_),
            "rmst_months": float(restricted_mean_survival_time(fitter, t=horizon)),
        }
    rmst = [per_group[name]["rmst_months"] for name in names]
    return {
        "rule": rule_text(settings.n_groups),
        "logrank_p": p_value,
        "rmst_horizon_months": float(horizon),
        "groups": per_group,
        "high_risk_below": len(names) == settings.n_groups and all(np.diff(rmst) < 0),
    }


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def km_plot(
    prediction_csvs: Sequence[str | Path],
    training_risk_csvs: Sequence[str | Path],
    settings: KmSettings,
    out_paths: Sequence[str | Path],
    summary_json: str | Path,
) -> dict:
    """Write the Kaplan-Meier figure(s) and their numbers (``summary_json``); return the numbers."""
    pooled = pooled_predictions(prediction_csvs)
    cut_offs = fold_cut_offs(read_training_risks(training_risk_csvs), settings.n_groups)
    groups = fold_risk_groups(pooled, cut_offs, settings.n_groups)
    one_group = len(set(groups)) < 2  # every patient above (or below) its cut: there is nothing to test
    p_value = math.nan if one_group else logrank_p_value(pooled["survival_months"], pooled["event"], groups)
    save_figure(km_figure(pooled, groups, settings, p_value), out_paths)
    summary = km_summary(pooled, groups, settings, p_value)
    write_json(summary_json, summary)
    return summary
