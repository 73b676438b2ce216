"""Reading a deployment's ``predictions.csv``, checked, for every job that uses it.

Its own module so that the jobs that only read the table (heatmaps in the torch environment, the
summary) do not import the scoring statistics and their dependencies (lifelines, scikit-survival).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crossfusion_core.errors import PipelineInputError

PREDICTION_COLUMNS = ("case_id", "slide_ids", "risk", "weights", "note")
OUTCOME_COLUMNS = ("survival_months", "censorship")


def read_deployment_predictions(path: str | Path, *, with_outcomes: bool) -> pd.DataFrame:
    """A deployment's ``predictions.csv``, checked; ``with_outcomes`` also needs survival columns."""
    path = Path(path)
    if not path.is_file():
        raise PipelineInputError(path, "deployment predictions do not exist", "run `deploy_predict`")
    table = pd.read_csv(path, dtype={"case_id": str, "slide_ids": str}, keep_default_na=True)
    needed = PREDICTION_COLUMNS + (OUTCOME_COLUMNS if with_outcomes else ())
    missing = [column for column in needed if column not in table.columns]
    if missing:
        raise PipelineInputError(path, f"missing columns {missing}", "run `deploy_predict` again")
    return table.assign(note=table["note"].fillna(""))
