"""The deployment's table: one row per model x backbone, what the report's deployment section shows.

Read from the files each deployment wrote (predictions, and where the target's survival is known its
metrics and Kaplan-Meier numbers), so the table shows exactly what was scored, with the weights named.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from crossfusion_core.deploy.predictions_file import read_deployment_predictions
from crossfusion_core.io import write_csv, write_text


def summary_row(
    model: str,
    backbone: str,
    predictions_csv: str | Path,
    metrics_json: str | Path | None,
    km_json: str | Path | None,
) -> dict[str, Any]:
    """One model x backbone: weights, patients scored, and the scores where survival is known."""
    table = read_deployment_predictions(predictions_csv, with_outcomes=False)
    row: dict[str, Any] = {
        "model": model,
        "backbone": backbone,
        "weights": table["weights"].iloc[0],
        "n_patients": len(table),
        "n_scored": int((table["note"] == "").sum()),
    }
    if metrics_json is not None and km_json is not None:
        metrics, km = json.loads(Path(metrics_json).read_text()), json.loads(Path(km_json).read_text())
        row["n_events"] = metrics["n_events"]
        for name in ("harrell_cindex", "uno_cindex"):
            row.update({f"{name}{suffix}": metrics[name][key] for suffix, key in _INTERVAL_KEYS.items()})
        row["logrank_p"] = km["logrank_p"]
        row["high_risk_below"] = km["high_risk_below"]
    return row


_INTERVAL_KEYS = {"": "estimate", "_low": "low", "_high": "high"}


def markdown_summary(table: pd.DataFrame, cohorts: tuple[str, str], level: float) -> str:
    """The table as Markdown, under a line naming the trained and the target cohort."""
    trained, target = cohorts
    scored = "harrell_cindex" in table.columns
    headers = ["model", "backbone", "weights", "patients scored"]
    if scored:
        headers += [
            f"Harrell's C [{level:.0%} CI]",
            f"Uno's C [{level:.0%} CI]",
            "log-rank p",
            "high risk below",
        ]
    lines = [
        f"Models trained on **{trained}**, applied to **{target}**"
        + ("." if scored else " (no survival known: predictions only)."),
        "",
        "| " + " | ".join(headers) + " |",
        "|" + " --- |" * len(headers),
    ]
    for row in table.to_dict("records"):
        cells = [row["model"], row["backbone"], row["weights"], f"{row['n_scored']} of {row['n_patients']}"]
        if scored:
            cells += [_interval_cell(row, "harrell_cindex"), _interval_cell(row, "uno_cindex")]
            cells += [_number(row["logrank_p"], "{:.3g}"), "yes" if row["high_risk_below"] else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _interval_cell(row: Mapping[str, Any], name: str) -> str:
    estimate = _number(row[name], "{:.3f}")
    low, high = _number(row[f"{name}_low"], "{:.3f}"), _number(row[f"{name}_high"], "{:.3f}")
    return f"{estimate} [{low}, {high}]"


def _number(value: Any, form: str) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else form.format(value)


def summarize_deployment(
    runs: Sequence[tuple[str, str]],
    predictions_csvs: Sequence[str | Path],
    metrics_jsons: Sequence[str | Path],
    km_jsons: Sequence[str | Path],
    cohorts: tuple[str, str],
    level: float,
    out_csv: str | Path,
    out_md: str | Path,
) -> pd.DataFrame:
    """Write the deployment table (CSV and Markdown); ``metrics_jsons`` and ``km_jsons`` are empty
    when the target's survival is unknown, else one per run, in the order of ``runs``."""
    scores = list(zip(metrics_jsons, km_jsons, strict=True)) or [(None, None)] * len(runs)
    table = pd.DataFrame(
        [
            summary_row(model, backbone, predictions, metrics, km)
            for (model, backbone), predictions, (metrics, km) in zip(
                runs, predictions_csvs, scores, strict=True
            )
        ]
    )
    write_csv(out_csv, table)
    write_text(out_md, markdown_summary(table, cohorts, level))
    return table
