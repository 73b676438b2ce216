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

from crossfusion_core.settings import SettingsError
from crossfusion_core.synthetic.clinical import survival_table, write_synthetic_clinical
from crossfusion_core.synthetic.cohort import SyntheticSettings, cohort_plan
from crossfusion_core.synthetic.slides import write_synthetic_slide
from crossfusion_core.synthetic.tissue import clump_chromatin, texture_mosaic

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
    assert sum(s.scan_magnification == 40 for s in plan) == round(0.5 * len(plan))
    assert any(s.two_pieces for s in plan) and any(s.pen_mark for s in plan)


def test_second_slides_share_the_patient_scores():
    plan = cohort_plan(SyntheticSettings(n_patients=20, second_slide_fraction=0.5))
    seconds = [s for s in plan if s.slide_index == 1]
    assert seconds
    firsts = {s.case_id: s for s in plan if s.slide_index == 0}
    for second in seconds:
        assert second.slide_id == f"{second.case_id}-S2"
        assert second.true_risk == firsts[second.case_id].true_risk


@pytest.mark.parametrize(
    ("mapping", "key", "message"),
    [
        ({"fraction_40x": 1.5}, ("fraction_40x",), "less than or equal to 1"),
        ({"n_patient": 3}, ("n_patient",), "did you mean 'n_patients'"),
        ({"n_patients": 0}, ("n_patients",), "greater than or equal to 1"),
        ({"tissue_size_um": [900, 800]}, ("tissue_size_um",), r"not \[min, max\]"),
        ({"tissue_size_um": [200, 800]}, ("tissue_size_um",), "300 <= min"),
        ({"censoring_rate": 1.0}, ("censoring_rate",), "less than 1"),
        ({"baseline_hazard_per_month": 0}, ("baseline_hazard_per_month",), "greater than 0"),
    ],
)
def test_settings_reject_bad_values(mapping: dict, key: tuple[str, ...], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        SyntheticSettings.from_mapping(mapping)
    assert raised.value.key == key


def test_settings_take_the_tissue_range_as_a_yaml_list() -> None:
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


def _read_level0(path) -> np.ndarray:
    handle = openslide.OpenSlide(str(path))
    return np.asarray(handle.read_region((0, 0), 0, handle.dimensions).convert("RGB"))


def _box_mean(rgb: np.ndarray, factor: int) -> np.ndarray:
    height, width = (rgb.shape[0] // factor) * factor, (rgb.shape[1] // factor) * factor
    return (
        rgb[:height, :width].reshape(height // factor, factor, width // factor, factor, 3).mean(axis=(1, 3))
    )


def _detail(rgb: np.ndarray) -> np.ndarray:
    """Local high-frequency energy: squared Laplacian of the grey image."""
    return cv2.Laplacian(rgb.mean(axis=2), cv2.CV_64F) ** 2


def test_nuclear_phenotype_shows_at_20x_and_vanishes_at_10x(small_cohort):
    """Read from the written SVS (through its JPEG tiles): clumped chromatin is fine detail at 20x only."""
    folder, paths = small_cohort
    ratios = {20: [], 10: []}
    for slide in cohort_plan(SMALL):
        with h5py.File(folder / f"{slide.slide_id}.h5") as h5:
            region = h5["nuclear_mask"][()].astype(bool)
        at_20x = _box_mean(_read_level0(paths[slide.slide_id]), round(0.5 / slide.level0_mpp))
        for magnification, image in ((20, at_20x), (10, _box_mean(at_20x, 2))):
            nuclei = image.mean(axis=2) < 130
            cells = (
                cv2.resize(region.astype(np.uint8), image.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
            )
            inside, outside = nuclei & cells, nuclei & ~cells
            if inside.sum() > 200 and outside.sum() > 200:
                detail = _detail(image)
                ratios[magnification].append(detail[inside].mean() / detail[outside].mean())
    assert ratios[20] and min(ratios[20]) > 5.0  # ~16x: the speckle is most of the detail in a nucleus
    assert 0.8 < np.mean(ratios[10]) < 1.25 and max(ratios[10]) < 1.5  # what is left is sampling noise


def test_clumped_chromatin_keeps_every_2x2_mean():
    rng = np.random.default_rng(0)
    rgb = rng.integers(60, 200, (64, 64, 3)).astype(np.uint8)
    coverage = np.zeros((64, 64), np.uint8)
    cv2.circle(coverage, (32, 32), 20, 255, -1, cv2.LINE_AA)
    speckled = rgb.copy()
    clump_chromatin(speckled, coverage, rng)
    np.testing.assert_array_equal(_box_mean(speckled, 2), _box_mean(rgb, 2))
    assert (speckled != rgb).mean() > 0.2
    assert (speckled[coverage == 0] == rgb[coverage == 0]).all()


def test_mosaic_cells_are_half_solid_whatever_the_arrangement():
    """Clustered blocks hold one texture, interleaved blocks a checkerboard; either way half the cells are
    solid, so a 10x patch (one cell) cannot tell a high architecture score from a low one."""
    tissue = np.ones((64 * 8, 64 * 8), bool)
    shares = {}
    for score in (-2.0, 2.0):
        solid, clustered = texture_mosaic(tissue, score, np.random.default_rng(1))
        blocks = solid.reshape(8, 2, 8, 2).transpose(0, 2, 1, 3).reshape(64, 4)
        uniform = (blocks.sum(axis=1) % 4) == 0
        np.testing.assert_array_equal(uniform, clustered.ravel())
        assert (blocks[~uniform].sum(axis=1) == 2).all()
        assert (blocks[~uniform, 0] == blocks[~uniform, 3]).all()  # diagonal: neighbours always differ
        assert abs(solid.mean() - 0.5) <= 1 / 64
        shares[score] = clustered.mean()
    assert shares[-2.0] < 0.15 and shares[2.0] > 0.85


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
