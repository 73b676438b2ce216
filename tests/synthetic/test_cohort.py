"""The synthetic cohort: plan, slides with planted risk, and clinical tables."""

from __future__ import annotations

import builtins
import hashlib

import cv2
import h5py
import numpy as np
import openslide
import pandas as pd
import pytest
from lifelines.utils import concordance_index
from reference_data import TCGA_REFERENCE

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.synthetic.clinical import survival_table, write_synthetic_clinical
from crossfusion_core.synthetic.cohort import SyntheticSettings, cohort_plan
from crossfusion_core.synthetic.slides import write_synthetic_slide

REFERENCE_SURVIVAL = str(TCGA_REFERENCE / "survival" / "tcga_blca_survival.csv")
SMALL = SyntheticSettings(n_patients=4, tissue_size_um=(500.0, 600.0), second_slide_fraction=0.5)


def test_plan_is_deterministic_and_opens_no_files(monkeypatch):
    def no_open(*args, **kwargs):
        raise AssertionError(f"cohort_plan opened {args[:1]}")

    monkeypatch.setattr(builtins, "open", no_open)
    plan = cohort_plan(SyntheticSettings())
    assert plan == cohort_plan(SyntheticSettings())
    assert plan != cohort_plan(SyntheticSettings(seed=8))
    assert [s.slide_id for s in plan[:2]] == ["SYN-P0001-S1", "SYN-P0002-S1"]
    assert sum(s.scan_magnification == 40 for s in plan) == 24
    assert any(s.two_pieces for s in plan) and any(s.pen_mark for s in plan)


def test_second_slides_share_the_patient_scores():
    plan = cohort_plan(SyntheticSettings(n_patients=20, second_slide_fraction=0.5))
    seconds = [s for s in plan if s.slide_index == 1]
    assert seconds
    firsts = {s.case_id: s for s in plan if s.slide_index == 0}
    for second in seconds:
        assert second.slide_id == f"{second.case_id}-S2"
        assert second.true_risk == firsts[second.case_id].true_risk


def test_settings_reject_bad_values():
    with pytest.raises(PipelineInputError, match="fraction_40x"):
        SyntheticSettings.from_mapping({"fraction_40x": 1.5})
    with pytest.raises(PipelineInputError, match="unknown keys"):
        SyntheticSettings.from_mapping({"n_patient": 3})
    assert SyntheticSettings.from_mapping({"tissue_size_um": [800, 900]}).tissue_size_um == (800.0, 900.0)


@pytest.fixture(scope="module")
def small_cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cohort")
    paths = {}
    for slide in cohort_plan(SMALL):
        paths[slide.slide_id] = folder / f"{slide.slide_id}.svs"
        write_synthetic_slide(SMALL, slide.slide_id, paths[slide.slide_id], folder / f"{slide.slide_id}.h5")
    return folder, paths


def test_slides_are_aperio_at_planned_scale(small_cohort):
    _, paths = small_cohort
    for slide in cohort_plan(SMALL):
        handle = openslide.OpenSlide(str(paths[slide.slide_id]))
        assert handle.properties["openslide.vendor"] == "aperio"
        assert float(handle.properties["openslide.mpp-x"]) == slide.level0_mpp
        assert int(handle.properties["openslide.objective-power"]) == slide.scan_magnification


def test_slide_is_deterministic(small_cohort, tmp_path):
    folder, paths = small_cohort
    slide_id = next(iter(paths))
    write_synthetic_slide(SMALL, slide_id, tmp_path / "again.svs", tmp_path / "again.h5")
    first = openslide.OpenSlide(str(paths[slide_id])).get_thumbnail((256, 256))
    again = openslide.OpenSlide(str(tmp_path / "again.svs")).get_thumbnail((256, 256))
    np.testing.assert_array_equal(np.asarray(first), np.asarray(again))
    with h5py.File(folder / f"{slide_id}.h5") as h5a, h5py.File(tmp_path / "again.h5") as h5b:
        np.testing.assert_array_equal(h5a["high_risk_mask"][()], h5b["high_risk_mask"][()])


def test_planted_regions_look_different(small_cohort):
    """High-risk regions (truth mask) are darker and more purple than the rest of the tissue."""
    folder, paths = small_cohort
    darker = []
    for slide_id, path in paths.items():
        with h5py.File(folder / f"{slide_id}.h5") as h5:
            high_risk = h5["high_risk_mask"][()].astype(bool)
            assert h5.attrs["mask_mpp"] == 8.0
        handle = openslide.OpenSlide(str(path))
        level = handle.level_count - 1
        rgb = np.asarray(handle.read_region((0, 0), level, handle.level_dimensions[level]).convert("RGB"))
        rgb = cv2.resize(rgb, high_risk.shape[::-1], interpolation=cv2.INTER_AREA).astype(float)
        tissue = rgb.sum(axis=2) < 3 * 230
        if (high_risk & tissue).sum() > 20 and (~high_risk & tissue).sum() > 20:
            darker.append(rgb[high_risk & tissue].mean() < rgb[~high_risk & tissue].mean() - 10)
    assert darker and all(darker)


def test_clinical_tables_follow_the_shared_format(small_cohort, tmp_path):
    _, paths = small_cohort
    write_synthetic_clinical(SMALL, paths, tmp_path / "s.csv", tmp_path / "r.csv", tmp_path / "m.tsv")
    survival = pd.read_csv(tmp_path / "s.csv")
    assert list(survival.columns) == list(pd.read_csv(REFERENCE_SURVIVAL, nrows=1).columns)
    assert survival["slide_id"].str.endswith(".svs").all()
    assert set(survival["censorship"]) <= {0, 1}
    assert (survival.groupby("case_id")["survival_months"].nunique() == 1).all()
    risks = pd.read_csv(tmp_path / "r.csv")
    assert list(risks.columns) == ["case_id", "true_risk"] and len(risks) == SMALL.n_patients
    manifest = pd.read_csv(tmp_path / "m.tsv", sep="\t")
    assert list(manifest.columns) == ["id", "filename", "md5", "size", "state"]
    first = manifest.iloc[0]
    slide_file = paths[first["filename"].removesuffix(".svs")]
    assert first["md5"] == hashlib.md5(slide_file.read_bytes()).hexdigest()
    assert first["size"] == slide_file.stat().st_size


def test_planted_risk_predicts_survival():
    """Sanity of the hazard model: the oracle C-index is high and censoring is near its target."""
    settings = SyntheticSettings(n_patients=400)
    table = survival_table(settings).drop_duplicates("case_id")
    risks = pd.DataFrame(
        [(s.case_id, s.true_risk) for s in cohort_plan(settings)], columns=["case_id", "risk"]
    )
    table = table.merge(risks.drop_duplicates("case_id"), on="case_id")
    c_index = concordance_index(table["survival_months"], -table["risk"], 1 - table["censorship"])
    assert 0.7 < c_index < 0.9
    assert table["censorship"].mean() == pytest.approx(settings.censoring_rate, abs=0.1)
