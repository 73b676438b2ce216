"""Tissue segmentation on real SVS files: synthetic slides, the CMU H&E scan and broken inputs."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from crossfusion_core.errors import MissingResolutionError, PipelineInputError, SlideReadError
from crossfusion_core.synthetic.svs_writer import write_aperio_svs
from crossfusion_core.wsi.segmentation import read_tissue_mask, segment_slide, tissue_mask
from crossfusion_core.wsi.settings import SegmentationSettings

SETTINGS = SegmentationSettings()
ELLIPSE_FRACTION = np.pi * 380 * 270 / (1024 * 768)
"""Share of the fixture slides covered by their elliptical tissue piece (see tests/conftest.py)."""


def _segment(slide, tmp_path, settings=SETTINGS, mpp_override=None):
    return segment_slide(slide, settings, mpp_override, tmp_path / "mask.h5", tmp_path / "qc.png")


@pytest.mark.parametrize("fixture", ["svs_40x", "svs_20x"])
def test_finds_the_synthetic_tissue(request, tmp_path, fixture):
    result = _segment(request.getfixturevalue(fixture), tmp_path)
    assert result.tissue_fraction == pytest.approx(ELLIPSE_FRACTION, abs=0.06)
    assert result.mask.shape == (96, 128)
    with h5py.File(tmp_path / "mask.h5") as h5:
        assert h5["mask"].dtype == np.uint8
        assert h5.attrs["mask_mpp"] == 8.0
        assert h5.attrs["level0_width"] * h5.attrs["level0_mpp"] == pytest.approx(1024)
        assert not h5.attrs["empty"]
    assert read_tissue_mask(tmp_path / "mask.h5").tissue_fraction == pytest.approx(result.tissue_fraction)
    assert (tmp_path / "qc.png").read_bytes()[:4] == b"\x89PNG"


def test_finds_tissue_on_a_real_scan(cmu_svs, tmp_path):
    for method in ("otsu", "morphological"):
        result = _segment(cmu_svs, tmp_path, SegmentationSettings(method=method))
        assert 0.15 < result.tissue_fraction < 0.7
        assert result.level0_mpp == pytest.approx(0.499)


def test_blank_slide_gives_an_empty_mask_and_a_warning(tmp_path):
    rng = np.random.default_rng(0)
    glass = (240 + rng.integers(-3, 4, (1024, 1024, 3))).astype(np.uint8)
    slide = write_aperio_svs(tmp_path / "blank.svs", glass, 0.5, 20)
    with pytest.warns(UserWarning, match=r"blank\.svs: no tissue"):
        result = _segment(slide, tmp_path)
    assert result.empty and result.tissue_fraction == 0
    with h5py.File(tmp_path / "mask.h5") as h5:
        assert h5.attrs["empty"]


def _scanner_noise(rgb: np.ndarray) -> np.ndarray:
    """Flat colours plus the few grey levels of noise every scan has (Otsu needs a spread)."""
    noise = np.random.default_rng(0).integers(-4, 5, rgb.shape)
    return np.clip(rgb.astype(int) + noise, 0, 255).astype(np.uint8)


def test_marker_ink_is_not_tissue():
    rgb = np.full((200, 300, 3), 242, np.uint8)
    rgb[50:150, 20:140] = (226, 150, 196)
    rgb[90:110, 150:290] = (45, 80, 170)  # blue marker on glass
    rgb[40:60, 150:290] = (50, 130, 75)  # green marker on glass
    rgb[120:140, 150:290] = (60, 60, 64)  # black marker on glass
    mask = tissue_mask(_scanner_noise(rgb), SegmentationSettings(min_region_um2=0, min_hole_um2=200))
    assert mask[60:140, 30:125].all()
    assert not mask[:, 150:].any()


def test_small_specks_dropped_and_small_holes_filled():
    rgb = np.full((200, 200, 3), 242, np.uint8)
    rgb[20:120, 20:120] = (226, 150, 196)
    rgb[60:64, 60:64] = 242  # 4x4 px hole = 1024 um2 at 8 um/px
    rgb[160:163, 160:163] = (226, 150, 196)  # 3x3 px speck
    mask = tissue_mask(_scanner_noise(rgb), SETTINGS)
    assert mask[60:64, 60:64].all()
    assert not mask[150:, 150:].any()


def test_truncated_slide_names_the_file(svs_20x, tmp_path):
    broken = tmp_path / "truncated.svs"
    data = svs_20x.read_bytes()
    broken.write_bytes(data[: len(data) // 3])
    with pytest.raises(SlideReadError, match=r"truncated\.svs"):
        _segment(broken, tmp_path)
    assert not (tmp_path / "mask.h5").exists()


def test_non_slide_file_names_the_file(tmp_path):
    fake = tmp_path / "notes.svs"
    fake.write_text("case_id,slide_id\n")
    with pytest.raises(SlideReadError, match=r"notes\.svs"):
        _segment(fake, tmp_path)


def test_missing_resolution_needs_an_override(svs_20x, tmp_path):
    bare = tmp_path / "bare.svs"
    write_aperio_svs(bare, np.full((512, 512, 3), 240, np.uint8), 0.5, None, write_mpp=False)
    with pytest.raises(MissingResolutionError, match=r"bare\.svs.*mpp_override"):
        _segment(bare, tmp_path)
    with pytest.warns(UserWarning):
        assert _segment(bare, tmp_path, mpp_override=0.5).mask.shape == (32, 32)


def test_settings_reject_bad_values():
    with pytest.raises(PipelineInputError, match="method"):
        SegmentationSettings.from_mapping({"method": "watershed"})
    with pytest.raises(PipelineInputError, match="unknown keys"):
        SegmentationSettings.from_mapping({"mask_mmp": 8})
    assert SegmentationSettings.from_mapping({"mask_mpp": 4}).mask_mpp == 4.0
