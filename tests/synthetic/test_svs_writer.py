"""The synthetic SVS files must look like Aperio scans to OpenSlide, resolution metadata included."""

from __future__ import annotations

import numpy as np
import openslide
import pytest

from crossfusion_core.synthetic.svs_writer import write_aperio_svs
from crossfusion_core.wsi.slide import slide_geometry


@pytest.mark.parametrize(
    ("fixture", "mpp", "power", "size_level0"),
    [("svs_40x", 0.25, 40, (4096, 3072)), ("svs_20x", 0.5, 20, (2048, 1536))],
)
def test_fixture_slides_open_as_aperio(request, fixture, mpp, power, size_level0):
    slide = openslide.OpenSlide(str(request.getfixturevalue(fixture)))
    assert slide.properties[openslide.PROPERTY_NAME_VENDOR] == "aperio"
    assert float(slide.properties[openslide.PROPERTY_NAME_MPP_X]) == pytest.approx(mpp)
    assert float(slide.properties[openslide.PROPERTY_NAME_OBJECTIVE_POWER]) == power
    assert slide.level_count == 3
    assert slide.dimensions == size_level0
    assert slide.level_downsamples == pytest.approx((1.0, 4.0, 16.0), rel=0.01)
    assert "thumbnail" in slide.associated_images


def test_pixels_survive_the_round_trip(tmp_path):
    rgb = np.zeros((512, 768, 3), np.uint8)
    rgb[:, :384] = (230, 150, 190)
    rgb[:, 384:] = (70, 40, 130)
    path = write_aperio_svs(tmp_path / "two_halves.svs", rgb, level0_mpp=0.5, objective_power=20)
    slide = openslide.OpenSlide(str(path))
    read = np.asarray(slide.read_region((0, 0), 0, (768, 512)).convert("RGB")).astype(int)
    assert np.abs(read[:, 16:368] - (230, 150, 190)).max() <= 6
    assert np.abs(read[:, 400:752] - (70, 40, 130)).max() <= 6
    coarse = np.asarray(slide.read_region((0, 0), 1, (192, 128)).convert("RGB")).astype(int)
    assert np.abs(coarse[:, 8:88] - (230, 150, 190)).max() <= 6


def test_resolution_can_be_left_out(tmp_path):
    rgb = np.full((256, 256, 3), 240, np.uint8)
    path = write_aperio_svs(tmp_path / "bare.svs", rgb, 0.25, objective_power=None, write_mpp=False)
    slide = openslide.OpenSlide(str(path))
    assert slide.properties[openslide.PROPERTY_NAME_VENDOR] == "aperio"
    assert openslide.PROPERTY_NAME_MPP_X not in slide.properties
    assert openslide.PROPERTY_NAME_OBJECTIVE_POWER not in slide.properties


def test_objective_power_alone_gives_the_scale(tmp_path):
    rgb = np.full((256, 256, 3), 240, np.uint8)
    path = write_aperio_svs(tmp_path / "power_only.svs", rgb, 0.5, objective_power=20, write_mpp=False)
    assert slide_geometry(path).level0_mpp == pytest.approx(0.5)


def test_no_partial_file_left_on_bad_input(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_aperio_svs(tmp_path / "bad.svs", np.zeros((64, 64, 3), np.float32), 0.5, 20)
    assert list(tmp_path.iterdir()) == []
