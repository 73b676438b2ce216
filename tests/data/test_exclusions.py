"""Patients without a usable slide: decided from real tissue masks and patch grids, listed with reasons.

The masks and grids come from the real segmentation and patching of three small SVS scans: the shared
20x fixture (tissue), an all-glass scan, and a scan whose only tissue is a 220 um square centred on a
corner of the 10x grid, so each of the four patches it touches holds 18% tissue, below the 25% a patch
needs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crossfusion_core.data.clinical import patient_table
from crossfusion_core.data.exclusions import (
    COLUMNS,
    excluded_patients,
    read_excluded_cases,
    slide_exclusion_reason,
    write_excluded_patients,
)
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.synthetic.svs_writer import write_aperio_svs
from crossfusion_core.wsi.patching import SlideWsiFiles, segment_and_patch
from crossfusion_core.wsi.settings import PatchingSettings, SegmentationSettings

GLASS, TISSUE = (242, 242, 242), (226, 150, 196)


def _speck_rgb() -> np.ndarray:
    """512 x 512 um at 0.5 um/px: glass, and a 220 um tissue square centred on the 10x grid's corner."""
    rgb = np.full((1024, 1024, 3), GLASS, np.uint8)
    rgb[292:732, 292:732] = TISSUE
    return rgb


@pytest.fixture(scope="module")
def slide_files(tmp_path_factory: pytest.TempPathFactory, svs_20x: Path) -> dict[str, tuple[Path, Path]]:
    """Slide id -> (tissue mask h5, patches h5), named ``{slide_id}.h5`` as in the file contract."""
    root = tmp_path_factory.mktemp("exclusions")
    slides = {
        "tissue": svs_20x,
        "glass": write_aperio_svs(root / "glass.svs", np.full((1024, 1024, 3), GLASS, np.uint8), 0.5, 20),
        "speck": write_aperio_svs(root / "speck.svs", _speck_rgb(), 0.5, 20),
    }
    files = {}
    for slide_id, path in slides.items():
        tissue, patches = root / "tissue" / f"{slide_id}.h5", root / "patches" / f"{slide_id}.h5"
        qc = root / "qc" / slide_id
        segment_and_patch(
            path,
            SegmentationSettings(),
            PatchingSettings(),
            None,
            SlideWsiFiles(tissue, qc / "tissue.png", patches, qc / "patches.png"),
        )
        files[slide_id] = (tissue, patches)
    return files


def test_each_slide_gets_the_reason_it_gives_no_bag(slide_files) -> None:
    reasons = {slide_id: slide_exclusion_reason(*paths) for slide_id, paths in slide_files.items()}
    assert reasons == {"tissue": None, "glass": "no_tissue", "speck": "tissue_too_small"}


def test_unreadable_mask_is_named(tmp_path: Path, slide_files) -> None:
    broken = tmp_path / "broken.h5"
    broken.write_text("not hdf5")
    with pytest.raises(PipelineInputError, match="tissue mask cannot be read") as info:
        slide_exclusion_reason(broken, slide_files["tissue"][1])
    assert str(broken) in str(info.value)


def _patients(rows: list[tuple[str, str]]) -> pd.DataFrame:
    """patient_table of a survival table with the given (case_id, slide_id) rows."""
    table = pd.DataFrame(rows, columns=["case_id", "slide_id"]).assign(survival_months=5.0, censorship=0)
    return patient_table(table)


def test_only_patients_without_any_usable_slide_are_listed(caplog) -> None:
    patients = _patients([("A", "A1"), ("A", "A2"), ("B", "B1"), ("C", "C1"), ("C", "C2")])
    reasons = {"A1": "no_tissue", "A2": None, "B1": None, "C1": "no_tissue", "C2": "tissue_too_small"}
    config_excluded = {"C3": "C", "D1": "D", "D2": "D", "A3": "A", "E1": None}
    with caplog.at_level(logging.WARNING):
        table = excluded_patients(patients, reasons, config_excluded)
    assert list(table.columns) == list(COLUMNS)
    assert table[["case_id", "slide_id", "reason"]].values.tolist() == [
        ["C", "C1", "no_tissue"],
        ["C", "C2", "tissue_too_small"],
        ["C", "C3", "excluded_in_config"],
        ["D", "D1", "excluded_in_config"],
        ["D", "D2", "excluded_in_config"],
    ]
    assert table["explanation"].str.len().gt(10).all()
    assert "patient A stays, without slide A1" in caplog.text


def test_files_list_the_left_out_patients_for_the_splits_and_the_report(tmp_path: Path, slide_files) -> None:
    survival = tmp_path / "survival.csv"
    pd.DataFrame(
        {
            "case_id": ["P1", "P2", "P2", "P3"],
            "slide_id": ["tissue.svs", "glass.svs", "speck.svs", "glass_twin.svs"],
            "survival_months": [3.0, 4.0, 4.0, 5.0],
            "censorship": [0, 1, 1, 0],
        }
    ).to_csv(survival, index=False)
    twin = [tmp_path / kind / "glass_twin.h5" for kind in ("tissue", "patches")]
    for copy, original in zip(twin, slide_files["glass"], strict=True):
        copy.parent.mkdir()
        copy.write_bytes(original.read_bytes())
    tissue = [slide_files["tissue"][0], slide_files["glass"][0], slide_files["speck"][0], twin[0]]
    patches = [slide_files["tissue"][1], slide_files["glass"][1], slide_files["speck"][1], twin[1]]
    out_csv, out_html = tmp_path / "qc" / "excluded.csv", tmp_path / "qc" / "excluded.html"
    write_excluded_patients(survival, tissue, patches, {"P4-S1": "P4"}, out_csv, out_html)
    assert read_excluded_cases(out_csv) == {"P2", "P3", "P4"}
    listed = pd.read_csv(out_csv)
    assert listed.set_index("slide_id")["reason"].to_dict() == {
        "glass": "no_tissue",
        "speck": "tissue_too_small",
        "glass_twin": "no_tissue",
        "P4-S1": "excluded_in_config",
    }
    page = out_html.read_text()
    assert "3 of 4 patients are left out" in page and "<td>glass_twin</td>" in page


def test_no_left_out_patient_still_gives_a_page_and_an_empty_list(tmp_path: Path, slide_files) -> None:
    survival = tmp_path / "survival.csv"
    survival.write_text("case_id,slide_id,survival_months,censorship\nP1,tissue.svs,3.0,0\n")
    out_csv, out_html = tmp_path / "excluded.csv", tmp_path / "excluded.html"
    write_excluded_patients(
        survival, [slide_files["tissue"][0]], [slide_files["tissue"][1]], {}, out_csv, out_html
    )
    assert read_excluded_cases(out_csv) == frozenset()
    assert "None of the 1 patients is left out" in out_html.read_text()


def test_a_slide_of_the_table_without_files_is_an_error(tmp_path: Path, slide_files) -> None:
    survival = tmp_path / "survival.csv"
    survival.write_text(
        "case_id,slide_id,survival_months,censorship\nP1,tissue.svs,3.0,0\nP2,other.svs,4,1\n"
    )
    with pytest.raises(PipelineInputError, match=r"\['other'\] have no tissue mask") as info:
        write_excluded_patients(
            survival,
            [slide_files["tissue"][0]],
            [slide_files["tissue"][1]],
            {},
            tmp_path / "e.csv",
            tmp_path / "e.html",
        )
    assert str(survival) in str(info.value)
    assert not (tmp_path / "e.csv").exists()


def test_a_list_without_its_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "excluded.csv"
    path.write_text("patient\nP1\n")
    with pytest.raises(PipelineInputError, match="lacks column"):
        read_excluded_cases(path)
