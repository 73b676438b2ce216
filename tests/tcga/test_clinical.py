"""Survival tables from the study's files and from a recorded GDC cases response on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.tcga.clinical import survival_table, survival_table_from_file, survival_table_from_gdc
from crossfusion_core.tcga.dataset import TcgaDataset
from crossfusion_core.tcga.gdc import GdcAccessError

SURVIVAL = Path(__file__).resolve().parents[2] / "config" / "tcga" / "survival"

# A recorded-style GDC /cases answer: the nesting of the real API (demographic object, lists of
# diagnoses and follow_ups), trimmed to the requested fields.
CASES = [
    {
        "submitter_id": "TCGA-AA-0001",
        "demographic": {"vital_status": "Dead", "days_to_death": 300, "gender": "female", "age_at_index": 61},
        "diagnoses": [{"days_to_last_follow_up": 250, "age_at_diagnosis": 22400}],
    },
    {
        "submitter_id": "TCGA-AA-0002",
        "demographic": {"vital_status": "Alive", "days_to_death": None, "gender": "male"},
        "diagnoses": [{"days_to_last_follow_up": 912, "age_at_diagnosis": 21915}],
        "follow_ups": [{"days_to_follow_up": 1000}, {"days_to_follow_up": None}],
    },
    {
        "submitter_id": "TCGA-AA-0003",
        "demographic": {"vital_status": "Alive", "gender": "female"},
        "diagnoses": [{"days_to_last_follow_up": None}],
    },
    {"submitter_id": "TCGA-AA-0004", "demographic": {"vital_status": "Dead"}, "diagnoses": []},
    {"submitter_id": "TCGA-ZZ-9999", "demographic": {"vital_status": "Alive"}, "diagnoses": []},
]
SLIDES = [
    "TCGA-AA-0001-01Z-00-DX1.A",
    "TCGA-AA-0001-01Z-00-DX2.B",
    "TCGA-AA-0002-01Z-00-DX1.C",
    "TCGA-AA-0003-01Z-00-DX1.D",
    "TCGA-AA-0004-01Z-00-DX1.E",
    "TCGA-AA-0005-01Z-00-DX1.F",
]


@pytest.fixture
def gdc_with_cases(fake_gdc, tmp_path):
    recording = tmp_path / "cases_response.json"
    recording.write_text(json.dumps(CASES))
    fake_gdc.cases = json.loads(recording.read_text())
    return fake_gdc


def test_gdc_cases_give_months_and_censorship(gdc_with_cases, tmp_path):
    out_csv = tmp_path / "clinical" / "survival.csv"
    report = survival_table_from_gdc("TCGA-AA", SLIDES, gdc_with_cases.url, out_csv, page_size=2)
    table = pd.read_csv(out_csv)
    assert table["slide_id"].tolist() == [slide + ".svs" for slide in SLIDES[:3]]
    assert table["case_id"].tolist() == ["TCGA-AA-0001", "TCGA-AA-0001", "TCGA-AA-0002"]
    assert table["survival_months"].tolist() == [10.0, 10.0, 33.33]
    assert table["censorship"].tolist() == [0, 0, 1]
    assert table["age"].tolist() == [61, 61, 60]
    assert table["is_female"].tolist() == [1, 1, 0]
    assert table["site"].tolist() == ["AA", "AA", "AA"]
    assert report.dropped == {
        "no follow-up": [SLIDES[3] + ".svs"],
        "dead without days_to_death": [SLIDES[4] + ".svs"],
        "case not found at the GDC": [SLIDES[5] + ".svs"],
    }
    assert [query["from"] for query in gdc_with_cases.posted] == [0, 2, 4]
    assert {json.dumps(query["filters"]) for query in gdc_with_cases.posted} == {
        json.dumps({"op": "in", "content": {"field": "project.project_id", "value": ["TCGA-AA"]}})
    }


def test_offline_gdc_says_to_provide_a_survival_table(closed_port_url, tmp_path):
    out_csv = tmp_path / "survival.csv"
    with pytest.raises(GdcAccessError, match=r"cannot reach the GDC.*dataset\.survival_table"):
        survival_table_from_gdc("TCGA-BRCA", SLIDES, closed_port_url, out_csv)
    assert not out_csv.exists()


def test_study_table_gives_patient_ids_and_reports_missing_slides(tmp_path):
    coad = pd.read_csv(SURVIVAL / "tcga_coad_survival.csv")
    wanted = [*coad["slide_id"].str.removesuffix(".svs").tolist()[:3], "TCGA-AA-0005-01Z-00-DX1.F"]
    out_csv = tmp_path / "survival.csv"
    report = survival_table_from_file(SURVIVAL / "tcga_coad_survival.csv", wanted, out_csv)
    table = pd.read_csv(out_csv)
    assert len(table) == 3 and all(len(case) == 12 for case in table["case_id"])
    assert (table["case_id"] == table["slide_id"].str[:12]).all()
    expected = coad.set_index("slide_id").loc[table["slide_id"], "survival_months"].tolist()
    assert table["survival_months"].tolist() == expected
    assert report.dropped == {"not in tcga_coad_survival.csv": ["TCGA-AA-0005-01Z-00-DX1.F.svs"]}


def test_float_censorship_of_the_luad_table_becomes_integer(tmp_path):
    luad = pd.read_csv(SURVIVAL / "tcga_luad_survival.csv")
    out_csv = tmp_path / "survival.csv"
    survival_table_from_file(SURVIVAL / "tcga_luad_survival.csv", luad["slide_id"], out_csv)
    table = pd.read_csv(out_csv)
    assert len(table) == len(luad) and table["censorship"].dtype.kind == "i"
    assert set(table.columns) == {
        "case_id",
        "slide_id",
        "survival_months",
        "censorship",
        "age",
        "is_female",
        "site",
    }


@pytest.mark.parametrize("fill", [True, False])
def test_cohort_table_is_filled_from_the_gdc_only_when_asked(gdc_with_cases, tmp_path, fill):
    table_path = tmp_path / "given.csv"
    table_path.write_text(
        "case_id,slide_id,survival_months,censorship\nTCGA-AA-0001,TCGA-AA-0001-01Z-00-DX1.A.svs,7.5,1\n"
    )
    dataset = TcgaDataset.from_mapping(
        {
            "kind": "tcga",
            "project": "TCGA-AA",
            "manifest": "m.tsv",
            "data_dir": "data",
            "survival_table": str(table_path),
            "fill_missing_from_gdc": fill,
            "gdc_api": gdc_with_cases.url,
        }
    )
    out_csv = tmp_path / "survival.csv"
    report = survival_table(dataset, [SLIDES[0], SLIDES[2]], out_csv)
    table = pd.read_csv(out_csv)
    assert table.loc[0, "survival_months"] == 7.5 and table.loc[0, "censorship"] == 1
    if fill:
        assert table["survival_months"].tolist() == [7.5, 33.33] and report.dropped == {}
    else:
        assert len(table) == 1 and report.dropped == {"not in given.csv": [SLIDES[2] + ".svs"]}
        assert gdc_with_cases.requests == []


def test_no_usable_slide_is_an_error(tmp_path):
    with pytest.raises(PipelineInputError, match="no slide has usable survival data"):
        survival_table_from_file(
            SURVIVAL / "tcga_blca_survival.csv", ["TCGA-AA-0005-01Z-00-DX1.F"], tmp_path / "s.csv"
        )
    assert not (tmp_path / "s.csv").exists()


def test_bad_values_in_a_given_table_name_the_slides(tmp_path):
    table_path = tmp_path / "given.csv"
    table_path.write_text(
        "case_id,slide_id,survival_months,censorship\n"
        "TCGA-AA-0001,TCGA-AA-0001-01Z-00-DX1.A.svs,-3,0\n"
        "TCGA-AA-0002,TCGA-AA-0002-01Z-00-DX1.C.svs,4,2\n"
    )
    with pytest.raises(
        PipelineInputError, match=r"negative for \['TCGA-AA-0001.*not 0/1 for \['TCGA-AA-0002"
    ):
        survival_table_from_file(table_path, [SLIDES[0], SLIDES[2]], tmp_path / "s.csv")
