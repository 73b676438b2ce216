"""The comparison table: one row per model x backbone, best value per metric marked.

Reads the ``metrics.json`` each evaluation writes, so the table always shows exactly what was scored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crossfusion_core.errors import PipelineInputError
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
    Column("pooled_cindex", "pooled out-of-fold C", "higher"),
    Column("oracle_cindex", "oracle C (true risk)", None),
)


def read_metrics(path: str | Path) -> dict[str, Any]:
    """One evaluation's summary, checked for the keys the table needs."""
    path = Path(path)
    if not path.is_file():
        raise PipelineInputError(path, "metrics file does not exist", "run the evaluation of this model")
    payload = json.loads(path.read_text())
    if not {"metrics", "pooled", "n_folds"} <= set(payload):
        raise PipelineInputError(path, "not a metrics.json written by evaluate_predictions", "rerun it")
    return payload


def table_row(model: str, backbone: str, protocol: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Mean and std of every fold metric, plus the pooled C (which has no std)."""
    row: dict[str, Any] = {"model": model, "backbone": backbone, "protocol": protocol}
    row["n_folds"] = payload["n_folds"]
    metrics = dict(payload["metrics"])
    metrics["pooled_cindex"] = {"mean": payload["pooled"].get("harrell_cindex"), "std": None}
    for column in COLUMNS:
        summary = metrics.get(column.name, {})
        row[f"{column.name}_mean"] = _float(summary.get("mean"))
        row[f"{column.name}_std"] = _float(summary.get("std"))
    return row


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


def markdown_cell(mean: float, std: float, best: bool) -> str:
    """``0.712 ± 0.034``, bold when best, ``n/a`` when the metric was not computable."""
    if np.isnan(mean):
        return "n/a"
    text = f"{mean:.3f}" if np.isnan(std) else f"{mean:.3f} ± {std:.3f}"
    return f"**{text}**" if best else text


def markdown_table(table: pd.DataFrame, protocol: str) -> str:
    """The table as Markdown with a legend naming the protocol and how to read the numbers."""
    titles = [c.title + {"higher": " ↑", "lower": " ↓", None: ""}[c.better] for c in COLUMNS]
    lines = ["| model | backbone | folds | " + " | ".join(titles) + " |"]
    lines.append("| --- | --- | --- |" + " --- |" * len(COLUMNS))
    for _, row in table.iterrows():
        cells = [
            markdown_cell(row[f"{c.name}_mean"], row[f"{c.name}_std"], bool(row.get(f"{c.name}_best", False)))
            for c in COLUMNS
        ]
        lines.append(f"| {row['model']} | {row['backbone']} | {row['n_folds']} | " + " | ".join(cells) + " |")
    legend = (
        f"Protocol: **{protocol}**. Mean ± sample standard deviation (ddof=1) over the folds; the pooled C "
        "scores all out-of-fold risks together; best value per column in bold (↑ higher is better, "
        "↓ lower is better); the oracle C scores the true risk of a synthetic cohort and is not ranked."
    )
    return "\n".join([*lines, "", legend, ""])


def summarize(
    metrics_jsons: Mapping[tuple[str, str], str | Path],
    protocol: str,
    out_csv: str | Path,
    out_md: str | Path,
) -> pd.DataFrame:
    """Write the model x backbone comparison as CSV (with ``*_best`` flags) and Markdown (bold best)."""
    if not metrics_jsons:
        raise PipelineInputError(None, "no metrics to summarize", "list at least one model and backbone")
    rows = [table_row(m, b, protocol, read_metrics(p)) for (m, b), p in metrics_jsons.items()]
    table = mark_best(pd.DataFrame(rows))
    write_csv(out_csv, table)
    write_text(out_md, markdown_table(table, protocol))
    return table
