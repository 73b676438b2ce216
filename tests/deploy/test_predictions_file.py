"""A deployment's predictions table read back: missing file or columns name the file and the fix."""

from __future__ import annotations

import pandas as pd
import pytest

from crossfusion_core.deploy.predictions_file import read_deployment_predictions
from crossfusion_core.errors import PipelineInputError

ROWS = {"case_id": ["0001"], "slide_ids": ["S1"], "risk": [0.3], "weights": ["ensemble"], "note": [None]}


def test_ids_stay_text_and_an_empty_note_reads_as_blank(tmp_path) -> None:
    path = tmp_path / "predictions.csv"
    pd.DataFrame(ROWS).to_csv(path, index=False)
    table = read_deployment_predictions(path, with_outcomes=False)
    assert table.loc[0, "case_id"] == "0001" and table.loc[0, "note"] == ""


def test_outcomes_are_asked_for_only_when_scoring(tmp_path) -> None:
    path = tmp_path / "predictions.csv"
    pd.DataFrame(ROWS).to_csv(path, index=False)
    with pytest.raises(PipelineInputError, match=r"missing columns \['survival_months', 'censorship'\]"):
        read_deployment_predictions(path, with_outcomes=True)


def test_a_missing_table_names_the_rule_that_writes_it(tmp_path) -> None:
    with pytest.raises(PipelineInputError, match="deploy_predict") as error:
        read_deployment_predictions(tmp_path / "absent.csv", with_outcomes=False)
    assert error.value.path == tmp_path / "absent.csv"
