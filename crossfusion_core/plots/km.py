"""Kaplan-Meier curves of patients grouped by their out-of-fold predicted risk.

Every patient's risk comes from the fold model that never saw it; the groups split the pooled risks at
their median (or tertiles). The curves, bands, censor marks and at-risk table are lifelines'.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.plotting import add_at_risk_counts
from matplotlib.figure import Figure

from crossfusion_core.evaluation.logrank import logrank_p_value
from crossfusion_core.evaluation.predictions import pooled_predictions
from crossfusion_core.plots.figures import save_figure
from crossfusion_core.plots.settings import KmSettings

GROUP_NAMES = {2: ("low risk", "high risk"), 3: ("low risk", "intermediate risk", "high risk")}


def risk_groups(risk: np.ndarray, n_groups: int) -> np.ndarray:
    """Group name per patient by quantile of risk; ties are broken by order so groups stay equal-sized."""
    ranks = pd.Series(risk).rank(method="first")
    return pd.qcut(ranks, n_groups, labels=GROUP_NAMES[n_groups]).astype(str).to_numpy()


def km_figure(pooled: pd.DataFrame, groups: np.ndarray, settings: KmSettings, p_value: float) -> Figure:
    """Curves with confidence bands and censor marks, and the numbers at risk under the axis."""
    figure = Figure(figsize=(7.0, 5.5))
    ax = figure.add_subplot()
    fitters = []
    for name in GROUP_NAMES[settings.n_groups]:
        members = groups == name
        fitter = KaplanMeierFitter(alpha=1.0 - settings.confidence_level)
        fitter.fit(pooled.loc[members, "survival_months"], pooled.loc[members, "event"], label=name)
        fitter.plot_survival_function(ax=ax, ci_show=True, show_censors=True)
        fitters.append(fitter)
    add_at_risk_counts(*fitters, ax=ax, fig=figure, rows_to_show=["At risk"])
    ax.set_xlabel("months")
    ax.set_ylabel("survival probability")
    ax.set_ylim(0.0, 1.05)
    test = "log-rank" if settings.n_groups == 2 else "multivariate log-rank"
    ax.set_title(f"Out-of-fold risk groups (n = {len(pooled)}): {test} p = {p_value:.3g}")
    return figure


def km_plot(
    prediction_csvs: Sequence[str | Path], settings: KmSettings, out_paths: Sequence[str | Path]
) -> float:
    """Write the Kaplan-Meier figure of the pooled out-of-fold risk groups; return the log-rank p."""
    pooled = pooled_predictions(prediction_csvs)
    groups = risk_groups(pooled["risk"].to_numpy(float), settings.n_groups)
    p_value = logrank_p_value(pooled["survival_months"], pooled["event"], groups)
    save_figure(km_figure(pooled, groups, settings, p_value), out_paths)
    return p_value
