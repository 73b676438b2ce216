"""The comparison table: one row per model x backbone, best value per metric marked, and every paired
difference between models with its interval.

Reads the ``metrics.json`` each evaluation writes, so the table always shows exactly what was scored; the
paired differences need the patients' risks, so they are computed here from the prediction files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.evaluation.comparison import paired_differences
from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.io import write_csv, write_text


@dataclass(frozen=True)
class Column:
    """A metric of the table: where it sits in metrics.json and which direction is better.

    ``better`` is None for a column that describes the data rather than the model (the oracle).
    """

    name: str
    title: str
    better: str | None


COLUMNS = (
    Column("harrell_cindex", "Harrell's C", "higher"),
    Column("uno_cindex", "Uno's C", "higher"),
    Column("mean_auc", "mean time-dependent AUC", "higher"),
    Column("integrated_brier_score", "integrated Brier score", "lower"),
    Column("pooled_cindex", "pooled out-of-fold C [CI]", "higher"),
    Column("difference_to_reference", "ΔC vs {reference} [CI]", None),
    Column("spearman_true_risk", "Spearman with planted risk", "higher"),
    Column("oracle_cindex", "oracle C (true risk) [CI]", None),
)
REFERENCE_MODEL = "linear_probe"
"""The sanity line of every comparison: a MIL model below the probe on the same features is not learning."""
POOLED_COLUMNS = {"pooled_cindex": "harrell_cindex", "oracle_cindex": "oracle_cindex"}
"""Table columns read from the pooled row of metrics.json (with their intervals), by their key there."""


def read_metrics(path: str | Path) -> dict[str, Any]:
    """One evaluation's summary, checked for the keys the table needs."""
    path = Path(path)
    if not path.is_file():
        raise PipelineInputError(path, "metrics file does not exist", "run the evaluation of this model")
    payload = json.loads(path.read_text())
    if not {"metrics", "pooled", "n_folds"} <= set(payload):
        raise PipelineInputError(path, "not a metrics.json written by evaluate_predictions", "rerun it")
    return payload


def table_row(
    model: str, backbone: str, protocol: str, payload: Mapping[str, Any], differences: pd.DataFrame
) -> dict[str, Any]:
    """Mean and std over folds of every fold metric; the pooled C and oracle C with their intervals; the
    Spearman correlation with the planted risk; the paired difference to the reference model."""
    row: dict[str, Any] = {"model": model, "backbone": backbone, "protocol": protocol}
    row["n_folds"] = payload["n_folds"]
    pooled = payload["pooled"]
    values = {name: dict(summary) for name, summary in payload["metrics"].items()}
    for column, key in POOLED_COLUMNS.items():
        values[column] = {
            "mean": pooled.get(key),
            "low": pooled.get(f"{key}_low"),
            "high": pooled.get(f"{key}_high"),
        }
    values["spearman_true_risk"] = {"mean": pooled.get("spearman_true_risk")}
    values["difference_to_reference"] = _difference_to_reference(model, backbone, differences)
    for column in COLUMNS:
        summary = values.get(column.name, {})
        for statistic in ("mean", "std", "low", "high"):
            row[f"{column.name}_{statistic}"] = _float(summary.get(statistic))
    return row


def _difference_to_reference(model: str, backbone: str, differences: pd.DataFrame) -> dict[str, Any]:
    match = differences[
        (differences["model"] == model)
        & (differences["versus"] == REFERENCE_MODEL)
        & (differences["backbone"] == backbone)
    ]
    if match.empty:
        return {}
    first = match.iloc[0]
    return {"mean": first["difference"], "low": first["low"], "high": first["high"]}


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


def mark_best(table: pd.DataFrame) -> pd.DataFrame:
    """A ``*_best`` flag per ranked metric: True on every row that reaches the best mean (ties share)."""
    flags = {}
    for column in (c for c in COLUMNS if c.better):
        means = table[f"{column.name}_mean"]
        best = means.max() if column.better == "higher" else means.min()
        flags[f"{column.name}_best"] = np.isclose(means, best, rtol=0, atol=1e-12) & means.notna()
    return table.assign(**flags)


def markdown_cell(row: Mapping[str, Any], name: str, best: bool) -> str:
    """``0.712 ± 0.034`` (over folds) or ``0.725 [0.661, 0.788]`` (pooled, with its interval), bold when
    best, ``n/a`` when the metric was not computable."""
    mean, std, low, high = (row[f"{name}_{statistic}"] for statistic in ("mean", "std", "low", "high"))
    if np.isnan(mean):
        return "n/a"
    if not np.isnan(low):
        text = f"{mean:.3f} [{low:.3f}, {high:.3f}]"
    else:
        text = f"{mean:.3f}" if np.isnan(std) else f"{mean:.3f} ± {std:.3f}"
    return f"**{text}**" if best else text


def markdown_table(table: pd.DataFrame, differences: pd.DataFrame, protocol: str, level: float) -> str:
    """The table as Markdown with a legend naming the protocol and how to read the numbers, then every
    paired difference."""
    titles = [
        c.title.format(reference=REFERENCE_MODEL) + {"higher": " ↑", "lower": " ↓", None: ""}[c.better]
        for c in COLUMNS
    ]
    lines = ["| model | backbone | folds | " + " | ".join(titles) + " |"]
    lines.append("| --- | --- | --- |" + " --- |" * len(COLUMNS))
    for _, row in table.iterrows():
        cells = [markdown_cell(row, c.name, bool(row.get(f"{c.name}_best", False))) for c in COLUMNS]
        lines.append(f"| {row['model']} | {row['backbone']} | {row['n_folds']} | " + " | ".join(cells) + " |")
    legend = (
        f"Protocol: **{protocol}**. Mean ± sample standard deviation (ddof=1) over the folds; the pooled C "
        "scores all out-of-fold risks together (under repeated cross-validation, the mean over repeats), "
        f"with its {level:.0%} bootstrap interval over patients in brackets; ΔC is the paired bootstrap "
        f"difference to {REFERENCE_MODEL} on the same patients (an interval above 0: better than the "
        "probe; containing 0: undecided); best value per column in bold (↑ higher is better, ↓ lower is "
        "better); the oracle C scores the true risk of a synthetic cohort and is not ranked."
    )
    return "\n".join([*lines, "", legend, "", *difference_lines(differences, level), ""])


def difference_lines(differences: pd.DataFrame, level: float) -> list[str]:
    """Every ordered pair of models on a backbone: C of the first minus C of the second."""
    if differences.empty:
        return []
    lines = [
        f"**Paired differences**: pooled C of model minus pooled C of versus, {level:.0%} bootstrap interval",
        "",
        "| backbone | model | versus | ΔC [CI] |",
        "| --- | --- | --- | --- |",
    ]
    for _, pair in differences.iterrows():
        interval = f"{pair['difference']:+.3f} [{pair['low']:+.3f}, {pair['high']:+.3f}]"
        lines.append(f"| {pair['backbone']} | {pair['model']} | {pair['versus']} | {interval} |")
    return lines


def summarize(
    metrics_jsons: Mapping[tuple[str, str], str | Path],
    predictions: Mapping[tuple[str, str], Sequence[str | Path]],
    protocol: str,
    settings: EvaluationSettings,
    out: SummaryFiles,
) -> pd.DataFrame:
    """Write the model x backbone comparison as CSV (with ``*_best`` flags) and Markdown (bold best), and
    every paired difference as CSV. ``predictions`` maps each run to its per-fold prediction files."""
    if not metrics_jsons:
        raise PipelineInputError(None, "no metrics to summarize", "list at least one model and backbone")
    differences = paired_differences(predictions, settings)
    rows = [table_row(m, b, protocol, read_metrics(p), differences) for (m, b), p in metrics_jsons.items()]
    table = mark_best(pd.DataFrame(rows))
    write_csv(out.csv, table)
    write_csv(out.differences_csv, differences)
    write_text(out.markdown, markdown_table(table, differences, protocol, settings.confidence_level))
    return table


@dataclass(frozen=True)
class SummaryFiles:
    """Where the comparison goes: the table as CSV and Markdown, and the paired differences as CSV."""

    csv: Path
    markdown: Path
    differences_csv: Path
