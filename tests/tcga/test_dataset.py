"""The six cohort overlays load into TcgaDataset and point at files that exist; typos are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crossfusion_core.settings import SettingsError
from crossfusion_core.tcga.dataset import TcgaDataset
from crossfusion_core.tcga.manifest import slide_ids_from_manifest

ROOT = Path(__file__).resolve().parents[2]
COHORTS = ["blca", "brca", "coadread", "gbmlgg", "luad", "ucec"]


@pytest.mark.parametrize("cohort", COHORTS)
def test_cohort_overlay_points_at_the_copied_reference_data(cohort):
    overlay = yaml.safe_load((ROOT / "config" / "cohorts" / f"tcga_{cohort}.yaml").read_text())
    dataset = TcgaDataset.from_mapping(overlay["dataset"])
    assert overlay["cohort"] == f"tcga_{cohort}"
    assert dataset.data_dir == Path(f"data/tcga_{cohort}")
    assert sorted(path.name for path in (ROOT / dataset.splits_dir).iterdir()) == [
        f"splits_{fold}.csv" for fold in range(5)
    ]
    assert slide_ids_from_manifest(ROOT / dataset.manifest, dataset.slide_pattern)
    if dataset.survival_table is not None:
        assert (ROOT / dataset.survival_table).is_file()
    assert dataset.survival_table is not None or cohort in {"brca", "gbmlgg"}


def test_merged_cohorts_query_both_projects():
    overlay = yaml.safe_load((ROOT / "config" / "cohorts" / "tcga_coadread.yaml").read_text())
    dataset = TcgaDataset.from_mapping(overlay["dataset"])
    assert dataset.projects == ("TCGA-COAD", "TCGA-READ") and dataset.fill_missing_from_gdc


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        ({"survival_tabel": "x.csv"}, "survival_tabel", "unknown key"),
        ({"project": "BLCA"}, "project", "'BLCA' is not a GDC project id"),
        ({"project": ["TCGA-GBM", "lgg"]}, "project", "'lgg' is not a GDC project id"),
        ({"retries": -1}, "retries", "-1 is not valid"),
        ({"backoff_s": float("nan")}, "backoff_s", "nan is not valid"),
        ({"gdc_api": "ftp://x"}, "gdc_api", "not an http"),
        ({"manifest": None}, "manifest", "is missing"),
        ({"data_dir": ""}, "data_dir", "is missing"),
        ({"slide_pattern": ""}, "slide_pattern", "is empty"),
        ({"fill_missing_from_gdc": "no"}, "fill_missing_from_gdc", "'no' is not valid"),
    ],
)
def test_bad_source_section_is_refused(change, key, problem):
    mapping = {"kind": "tcga", "project": "TCGA-BLCA", "manifest": "m.tsv", "data_dir": "d", **change}
    with pytest.raises(SettingsError) as refused:
        TcgaDataset.from_mapping(mapping)
    assert refused.value.key == (key,) and problem in refused.value.problem


def test_blank_optional_paths_are_none_and_defaults_live_on_the_model():
    dataset = TcgaDataset(project="TCGA-BLCA", manifest="m.tsv", data_dir="d", splits_dir="", token_file=None)
    assert (dataset.splits_dir, dataset.token_file, dataset.slide_pattern) == (None, None, "-DX")
    assert dataset.projects == ("TCGA-BLCA",) and dataset.slide_file_pattern == "d/{slide}.svs"
