"""The slide sheet: ids map to files of any format in any folder; every mistake names its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.local.sheet import read_slide_sheet
from local.cohort_files import write_local_cohort, write_table

HEADER = ["slide_id", "case_id", "path", "mpp"]


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("local_cohort")
    write_local_cohort(root)
    return root


def test_slides_map_to_their_files_relative_to_the_sheet(cohort_dir: Path) -> None:
    slides = read_slide_sheet(cohort_dir / "slides.csv")
    by_id = {slide.slide_id: slide for slide in slides}
    assert list(by_id) == ["S1", "S2", "S3", "S4", "S1b"]
    assert by_id["S1"].path == cohort_dir / "slides" / "scan_1.svs"
    assert by_id["S2"].path == cohort_dir / "slides" / "tiff" / "scan_2.tif"
    assert by_id["S1b"].case_id == "P1" and by_id["S1b"].mpp == 0.5
    assert by_id["S2"].mpp is None
    assert [slide.line for slide in slides] == [2, 3, 4, 5, 6]


def test_a_tab_separated_sheet_with_absolute_paths_reads_the_same(cohort_dir: Path, tmp_path: Path) -> None:
    tsv = write_table(
        tmp_path / "elsewhere" / "sheet.tsv",
        ["case_id", "path", "slide_id"],
        [["P2", str(cohort_dir / "slides" / "tiff" / "scan_2.tif"), "S2"]],
    )
    (slide,) = read_slide_sheet(tsv)
    assert (slide.slide_id, slide.case_id, slide.path) == ("S2", "P2", cohort_dir / "slides/tiff/scan_2.tif")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [["S1", "P1", "slides/scan_1.svs", ""], ["S1", "P3", "slides/scan_3.svs", ""]],
            r"'S1' is listed on line 2, line 3",
        ),
        (
            [["S1", "P1", "slides/scan_1.svs", ""], ["S9", "P9", "slides/nowhere.svs", ""]],
            r"line 3 \(S9\): .*nowhere\.svs",
        ),
        ([["S1", "", "slides/scan_1.svs", ""]], r"line 2: empty case_id"),
        (
            [["scan_1.svs", "P1", "slides/scan_1.svs", ""]],
            r"line 2: slide_id 'scan_1\.svs' looks like a file name",
        ),
        ([["S 1", "P1", "slides/scan_1.svs", ""]], r"line 2: slide_id 'S 1' is not a plain name"),
        ([["S1", "P1", "slides/scan_1.svs", "-0.5"]], r"line 2: mpp '-0\.5' is not a positive number"),
        (
            [["S1", "P1", "slides/scan_1.svs", ""], ["S2", "P1", "slides/./scan_1.svs", ""]],
            r"listed for several slides: line 2 \(S1\), line 3 \(S2\)",
        ),
    ],
    ids=[
        "duplicate id",
        "missing file",
        "empty case",
        "file name as id",
        "space in id",
        "bad mpp",
        "same file",
    ],
)
def test_a_bad_row_is_named_by_its_line(cohort_dir: Path, rows: list, message: str) -> None:
    sheet = write_table(cohort_dir / "bad.csv", HEADER, rows)
    with pytest.raises(PipelineInputError, match=message) as info:
        read_slide_sheet(sheet)
    assert info.value.path == sheet


def test_a_sheet_without_a_required_column_says_which(cohort_dir: Path) -> None:
    sheet = write_table(
        cohort_dir / "columns.csv", ["slide", "case_id", "path"], [["S1", "P1", "slides/scan_1.svs"]]
    )
    with pytest.raises(PipelineInputError, match=r"lacks column\(s\) \['slide_id'\]"):
        read_slide_sheet(sheet)


def test_a_missing_sheet_names_the_config_key(tmp_path: Path) -> None:
    with pytest.raises(PipelineInputError, match=r"does not exist.*dataset\.slide_sheet"):
        read_slide_sheet(tmp_path / "nowhere.csv")
