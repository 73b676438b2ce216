"""The survival table loader: the shared TCGA tables load, bad tables fail naming file and patients."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from reference_data import TCGA_REFERENCE

from crossfusion_core.data.clinical import load_patients, load_survival_table
from crossfusion_core.errors import PipelineInputError

SURVIVAL_DIR = TCGA_REFERENCE / "survival"
SHARED_TABLES = sorted(SURVIVAL_DIR.glob("*.csv"))


def write_table(
    path: Path, rows: list[tuple], columns=("case_id", "slide_id", "survival_months", "censorship")
):
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


def test_shared_tables_give_one_row_per_patient() -> None:
    assert len(SHARED_TABLES) == 4
    for path in SHARED_TABLES:
        raw = pd.read_csv(path)
        patients = load_patients(path)
        assert patients["case_id"].is_unique
        assert len(patients) == raw["case_id"].nunique()
        assert sum(len(ids) for ids in patients["slide_ids"]) == len(raw)
        assert set(patients["censorship"]) <= {0, 1}
        assert not any(s.endswith(".svs") for ids in patients["slide_ids"] for s in ids)


def test_patient_with_two_slides_keeps_both(tmp_path) -> None:
    path = write_table(
        tmp_path / "s.csv",
        [("P1", "P1-a.svs", 3.0, 0), ("P2", "P2-a.svs", 5.0, 1), ("P1", "P1-b.svs", 3.0, 0)],
    )
    patients = load_patients(path).set_index("case_id")
    assert patients.loc["P1", "slide_ids"] == ("P1-a", "P1-b")
    assert patients.loc["P2", "censorship"] == 1


@pytest.mark.parametrize(
    ("rows", "problem", "named"),
    [
        ([("P1", "a.svs", -2.0, 0), ("P2", "b.svs", 4.0, 1)], "negative", "P1"),
        ([("P1", "a.svs", 2.0, 0), ("P2", "b.svs", None, 1)], "missing", "P2"),
        ([("P1", "a.svs", 2.0, 2), ("P2", "b.svs", 4.0, 1)], "censorship not 0 or 1", "P1"),
        ([("P1", "a.svs", 2.0, 0), ("P1", "b.svs", 4.0, 0)], "disagree", "P1"),
        ([("P1", "a.svs", 2.0, 0), ("P2", "a.svs", 4.0, 0)], "more than once", "a.svs"),
    ],
)
def test_bad_values_name_file_and_patient(tmp_path, rows, problem, named) -> None:
    path = write_table(tmp_path / "bad.csv", rows)
    with pytest.raises(PipelineInputError, match=problem) as info:
        load_survival_table(path)
    assert str(path) in str(info.value)
    assert named in str(info.value)


def test_missing_column_is_named(tmp_path) -> None:
    path = write_table(
        tmp_path / "bad.csv", [("P1", "a.svs", 2.0)], columns=("case_id", "slide_id", "survival_months")
    )
    with pytest.raises(PipelineInputError, match=r"lacks column.*censorship") as info:
        load_survival_table(path)
    assert str(path) in str(info.value)
