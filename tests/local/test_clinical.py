"""The clinical table of a local cohort, and the survival table it gives with the slide sheet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crossfusion_core.data.clinical import load_patients
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.local.clinical import check_cohort, read_clinical_table, write_local_survival
from crossfusion_core.local.sheet import read_slide_sheet
from local.cohort_files import write_local_cohort, write_table

HEADER = ["case_id", "survival_months", "censorship"]


@pytest.fixture(scope="module")
def cohort_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_local_cohort(tmp_path_factory.mktemp("local_cohort"))


def test_survival_table_has_one_row_per_run_slide_with_covariates(cohort_files, tmp_path: Path) -> None:
    sheet, clinical = cohort_files
    out = tmp_path / "survival.csv"
    assert write_local_survival(sheet, clinical, ["S1", "S1b", "S2", "S4"], out) == 4
    table = pd.read_csv(out)
    assert list(table.columns) == ["case_id", "slide_id", "survival_months", "censorship", "age"]
    assert table["slide_id"].tolist() == ["S1", "S1b", "S2", "S4"]
    assert table.set_index("slide_id").loc["S4"].tolist() == ["P4", 24.0, 0, 54]
    patients = load_patients(out)
    assert patients.set_index("case_id").loc["P1", "slide_ids"] == ("S1", "S1b")
    assert "P3" not in set(patients["case_id"])  # its slide was left out of the run


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["P1", 3, 0], ["P1", 4, 1]], r"case_id 'P1' is listed on line 2, line 3"),
        ([["P1", 3, "yes"]], r"line 2 \(P1\): censorship 'yes' is not 0 or 1"),
        ([["P1", -1, 0]], r"line 2 \(P1\): survival_months '-1' is not a number of months >= 0"),
        ([["P1", "", 0]], r"line 2 \(P1\): survival_months '' "),
        ([["", 3, 0]], r"line 2: empty case_id"),
    ],
    ids=["duplicate case", "bad censorship", "negative time", "missing time", "empty id"],
)
def test_a_bad_row_is_named_by_its_line(tmp_path: Path, rows: list, message: str) -> None:
    table = write_table(tmp_path / "clinical.csv", HEADER, rows)
    with pytest.raises(PipelineInputError, match=message) as info:
        read_clinical_table(table)
    assert info.value.path == table


def test_a_slide_without_a_patient_names_its_sheet_line(cohort_files, tmp_path: Path) -> None:
    sheet, _ = cohort_files
    table = write_table(tmp_path / "clinical.csv", HEADER, [["P1", 3, 0], ["P2", 5, 1], ["P3", 5, 1]])
    with pytest.raises(
        PipelineInputError, match=r"1 slide\(s\) belong to a case_id missing from .*: line 5 \(P4\)"
    ) as info:
        check_cohort(read_slide_sheet(sheet), read_clinical_table(table), sheet, table)
    assert info.value.path == sheet


def test_a_patient_without_a_slide_names_its_table_line(cohort_files, tmp_path: Path) -> None:
    sheet, _ = cohort_files
    rows = [[f"P{i}", 3, 0] for i in (1, 2, 3, 4, 7)]
    table = write_table(tmp_path / "clinical.csv", HEADER, rows)
    with pytest.raises(
        PipelineInputError, match=r"1 patient\(s\) have no slide in .*: line 6 \(P7\)"
    ) as info:
        check_cohort(read_slide_sheet(sheet), read_clinical_table(table), sheet, table)
    assert info.value.path == table
