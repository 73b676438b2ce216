"""Which slides a run covers and where their files are, from the config alone, for every dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
from local.cohort_files import write_local_cohort

from crossfusion_core.cohort import SlideSettings, cohort, cohort_slide_ids
from crossfusion_core.local.dataset import LocalDataset
from crossfusion_core.pipeline_config import PipelineConfig
from crossfusion_core.settings import SettingsError
from crossfusion_core.synthetic.dataset import SyntheticDataset
from crossfusion_core.synthetic.settings import SyntheticSettings
from crossfusion_core.tcga.dataset import TcgaDataset

SYNTHETIC = SyntheticSettings(n_patients=3, second_slide_fraction=0.0)


def test_synthetic_slides_are_planned_into_the_given_folder() -> None:
    listed = cohort(SyntheticDataset(), SYNTHETIC, "results/x/slides")
    assert [slide.slide_id for slide in listed.slides] == ["SYN-P0001-S1", "SYN-P0002-S1", "SYN-P0003-S1"]
    assert listed.slides[0].path == Path("results/x/slides/SYN-P0001-S1.svs")
    assert [slide.case_id for slide in listed.slides] == ["SYN-P0001", "SYN-P0002", "SYN-P0003"]


def test_exclusions_leave_the_other_slides_in_order() -> None:
    assert cohort_slide_ids(SyntheticDataset(), SYNTHETIC, ["SYN-P0002-S1"]) == [
        "SYN-P0001-S1",
        "SYN-P0003-S1",
    ]


def test_local_slides_keep_their_files_and_sheet_mpp(tmp_path: Path) -> None:
    sheet, clinical = write_local_cohort(tmp_path)
    listed = cohort(LocalDataset(slide_sheet=sheet, clinical_table=clinical), {}, "unused")
    by_id = {slide.slide_id: slide for slide in listed.slides}
    assert by_id["S4"].path == tmp_path / "slides" / "tiff" / "scan_4.tif"
    assert (by_id["S1b"].case_id, by_id["S1b"].mpp) == ("P1", 0.5)
    assert listed.listed_in == str(sheet)


def dataset_of(mapping: dict):
    return PipelineConfig.from_mapping({"dataset": mapping}).dataset


@pytest.mark.parametrize(
    ("mapping", "model"),
    [
        ({"kind": "synthetic"}, SyntheticDataset),
        (
            {"kind": "local", "slide_sheet": "s.csv", "clinical_table": "c.csv", "splits_dir": ""},
            LocalDataset,
        ),
        ({"kind": "tcga", "project": "TCGA-BLCA", "manifest": "m.tsv", "data_dir": "d"}, TcgaDataset),
    ],
)
def test_the_kind_picks_the_model_of_the_dataset(mapping: dict, model: type) -> None:
    dataset = dataset_of(mapping)
    assert type(dataset) is model and dataset.splits_dir is None and dataset.has_survival


@pytest.mark.parametrize(
    ("mapping", "key", "problem", "fix"),
    [
        (
            {"kind": "synthetic", "manifest": "m.tsv"},
            ("manifest",),
            "unknown key 'manifest'",
            "'kind'",
        ),
        ({"kind": "gdc"}, ("kind",), "'gdc' is not allowed", "use one of ['synthetic', 'tcga', 'local']"),
        ({"slide_sheet": "s.csv"}, ("kind",), "is missing", "'local'"),
        ({"kind": "local", "slide_sheet": None}, ("slide_sheet",), "is missing", "config/cohorts/"),
        (
            {"kind": "local", "slide_sheet": "s.csv", "data_dir": "d"},
            ("data_dir",),
            "unknown key 'data_dir'",
            "slide_sheet",
        ),
        (
            {"kind": "tcga", "project": "TCGA-BLCA", "manifest": "m.tsv", "data_dr": "d"},
            ("data_dr",),
            "unknown key 'data_dr'",
            "did you mean 'data_dir'?",
        ),
    ],
)
def test_a_dataset_of_the_wrong_shape_names_its_key_without_the_kind(
    mapping: dict, key: tuple[str, ...], problem: str, fix: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        dataset_of(mapping)
    assert refused.value.key == ("dataset", *key)
    assert problem in refused.value.problem and fix in refused.value.fix


def test_a_local_dataset_without_clinical_table_has_no_survival() -> None:
    assert not dataset_of({"kind": "local", "slide_sheet": "s.csv", "clinical_table": None}).has_survival


def test_slide_settings_read_empty_keys_as_nothing_and_refuse_bad_mpp() -> None:
    assert SlideSettings.from_mapping({"mpp_override": None, "exclude": None}) == SlideSettings()
    assert SlideSettings.from_mapping({"mpp_override": {"A": "0.25"}}).mpp_override == {"A": 0.25}
    for mpp in (0, float("nan")):
        with pytest.raises(SettingsError, match=r"`slides.mpp_override.A`: .* is not a positive mpp"):
            SlideSettings.from_mapping({"mpp_override": {"A": mpp}})
    with pytest.raises(SettingsError, match=r"unknown key 'exclud'"):
        SlideSettings.from_mapping({"exclud": ["A"]})
    with pytest.raises(SettingsError, match=r"`slides.batches`"):
        SlideSettings.from_mapping({"batches": 0})


def test_numeric_slide_ids_are_slide_ids() -> None:
    """YAML reads ``exclude: [1234]`` as a number; the slide is still ``1234``."""
    slides = SlideSettings.from_mapping({"exclude": [1234], "mpp_override": {5678: 0.5}})
    assert slides.exclude == ("1234",) and slides.mpp_override == {"5678": 0.5}
