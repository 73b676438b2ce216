"""How well the deployed models rank a target cohort whose survival is known: C-indices with intervals
and Kaplan-Meier risk groups.

Risk groups are cut where the trained cohort's own patients fall: at the median (or tertiles) of the
risks the deployed weights give them, never at the target's quantiles, which would split the target
into equal groups whatever the model says and set the threshold on the cohort it is tested on. For the
ensemble a trained patient's reference risk is the mean over the fold models, as for a target patient.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crossfusion_core.deploy.predictions_file import read_deployment_predictions
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.evaluation.bootstrap import cindex_interval, uno_cindex_interval
from crossfusion_core.evaluation.logrank import logrank_p_value
from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.io import write_json
from crossfusion_core.plots.figures import save_figure
from crossfusion_core.plots.km import CUT_NAMES, fold_risk_groups, km_figure, km_summary, read_training_risks
from crossfusion_core.plots.settings import KmSettings

INTERVAL_DEFINITION = (
    "{level:.0%} percentile bootstrap interval from {n} resamples of the scored patients with replacement"
)
UNO_DEFINITION = (
    "Uno's C with censoring weights from the target's own follow-up (estimated again in every resample), "
    "truncated at its last follow-up"
)


def scored_patients(table: pd.DataFrame) -> pd.DataFrame:
    """The patients with a risk, with ``event`` (1 = death observed)."""
    scored = table[np.isfinite(table["risk"].to_numpy(float))].reset_index(drop=True)
    return scored.assign(event=1 - scored["censorship"].astype(int))


def read_reference_risks(paths: Sequence[str | Path]) -> pd.Series:
    """Each trained patient's risk under the deployed weights, by case id: the mean over the models
    (told apart by their ``fold``: a fold model's training and held-out risks cover every patient once)."""
    risks = read_training_risks(paths)
    repeated = risks[risks.duplicated(["case_id", "fold"])]
    if not repeated.empty:
        raise PipelineInputError(
            Path(paths[0]).parent.parent,
            f"patients scored twice by one model: {repeated['case_id'].tolist()[:5]}",
            "rerun the training of the trained cohort",
        )
    return risks.pivot(index="case_id", columns="fold", values="risk").mean(axis=1)


def deployment_metrics(
    predictions_csv: str | Path, settings: EvaluationSettings, out_json: str | Path
) -> dict[str, Any]:
    """Harrell's and Uno's C of the deployed risk on the target's scored patients, with intervals."""
    table = read_deployment_predictions(predictions_csv, with_outcomes=True)
    scored = scored_patients(table)
    time, event, risk = (scored[c].to_numpy(float) for c in ("survival_months", "event", "risk"))
    harrell = cindex_interval(time, event, risk, settings.bootstrap, settings.tied_tol)
    uno = uno_cindex_interval(time, event, risk, settings.bootstrap, settings.tied_tol)
    payload = {
        "weights": table["weights"].iloc[0],
        "n_patients": len(table),
        "n_scored": len(scored),
        "n_events": int(event.sum()),
        "unscored": table.loc[table["note"] != "", "case_id"].tolist(),
        "harrell_cindex": harrell.as_dict(),
        "uno_cindex": uno.as_dict(),
        "interval": INTERVAL_DEFINITION.format(
            level=settings.confidence_level, n=settings.bootstrap_resamples
        ),
        "uno": UNO_DEFINITION,
    }
    write_json(out_json, payload)
    return payload


def deployment_km(
    predictions_csv: str | Path,
    reference_csvs: Sequence[str | Path],
    settings: KmSettings,
    cohorts: tuple[str, str],
    out_paths: Sequence[str | Path],
    summary_json: str | Path,
) -> dict[str, Any]:
    """Kaplan-Meier of the target's risk groups, cut at the trained cohort's reference risks, with the
    log-rank p; ``cohorts`` is (trained, target). Writes the figure(s) and their numbers."""
    trained, target = cohorts
    scored = scored_patients(read_deployment_predictions(predictions_csv, with_outcomes=True))
    reference = read_reference_risks(reference_csvs)
    cut_offs = np.quantile(reference.to_numpy(float), np.arange(1, settings.n_groups) / settings.n_groups)
    # One set of cut-offs for every target patient: the km module's per-fold grouping with one fold.
    groups = fold_risk_groups(scored.assign(fold=0), {0: cut_offs}, settings.n_groups)
    one_group = len(set(groups)) < 2
    p_value = math.nan if one_group else logrank_p_value(scored["survival_months"], scored["event"], groups)
    rule = (
        f"cut at the {CUT_NAMES[settings.n_groups]} of the risks the deployed weights give "
        f"{trained}'s {len(reference)} patients"
    )
    figure = km_figure(
        scored, groups, settings, p_value, heading=f"{target}, deployed risk groups", rule=rule
    )
    save_figure(figure, out_paths)
    summary = {
        **km_summary(scored, groups, settings, p_value),
        "rule": rule,
        "cut_offs": cut_offs.tolist(),
        "weights": scored["weights"].iloc[0],
    }
    write_json(summary_json, summary)
    return summary
