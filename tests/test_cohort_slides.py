"""Which slides a run covers and where their files are, from the config alone, for every source."""

from __future__ import annotations

from pathlib import Path

import pytest
from local.cohort_files import write_local_cohort

from crossfusion_core.cohort import SlideSettings, cohort, cohort_slide_ids
from crossfusion_core.errors import PipelineInputError

SYNTHETIC = {"n_patients": 3, "second_slide_fraction": 0.0}


def test_synthetic_slides_are_planned_into_the_given_folder() -> None:
    listed = cohort({"kind": "synthetic"}, SYNTHETIC, "results/x/slides")
    assert [slide.slide_id for slide in listed.slides] == ["SYN-P0001-S1", "SYN-P0002-S1", "SYN-P0003-S1"]
    assert listed.slides[0].path == Path("results/x/slides/SYN-P0001-S1.svs")
    assert [slide.case_id for slide in listed.slides] == ["SYN-P0001", "SYN-P0002", "SYN-P0003"]


def test_exclusions_leave_the_other_slides_in_order() -> None:
    assert cohort_slide_ids({"kind": "synthetic"}, SYNTHETIC, ["SYN-P0002-S1"]) == [
        "SYN-P0001-S1",
        "SYN-P0003-S1",
    ]


def test_local_slides_keep_their_files_and_sheet_mpp(tmp_path: Path) -> None:
    sheet, clinical = write_local_cohort(tmp_path)
    listed = cohort(
        {"kind": "local", "slide_sheet": str(sheet), "clinical_table": str(clinical)}, {}, "unused"
    )
    by_id = {slide.slide_id: slide for slide in listed.slides}
    assert by_id["S4"].path == tmp_path / "slides" / "tiff" / "scan_4.tif"
    assert (by_id["S1b"].case_id, by_id["S1b"].mpp) == ("P1", 0.5)
    assert listed.listed_in == str(sheet)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"kind": "synthetic", "manifest": "m.tsv"}, r"keys \['manifest'\] do not apply to kind synthetic"),
        ({"kind": "gdc"}, r"kind='gdc'"),
    ],
)
def test_a_source_of_the_wrong_shape_is_refused(source: dict, message: str) -> None:
    with pytest.raises(PipelineInputError, match=message):
        cohort(source, SYNTHETIC, "slides")


def test_slide_settings_read_empty_keys_as_nothing_and_refuse_bad_mpp() -> None:
    assert SlideSettings.from_mapping({"mpp_override": None, "exclude": None}) == SlideSettings()
    assert SlideSettings.from_mapping({"mpp_override": {"A": "0.25"}}).mpp_override == {"A": 0.25}
    with pytest.raises(PipelineInputError, match=r"mpp_override of A is 0, not a positive mpp"):
        SlideSettings.from_mapping({"mpp_override": {"A": 0}})
    with pytest.raises(PipelineInputError, match=r"unknown keys \['exclud'\]"):
        SlideSettings.from_mapping({"exclud": ["A"]})
