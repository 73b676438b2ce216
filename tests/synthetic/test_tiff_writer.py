"""The generic pyramidal TIFFs must open in OpenSlide's generic-tiff driver with their pyramid and mpp."""

from __future__ import annotations

import numpy as np
import openslide
import pytest
import tifffile
from fixture_slides import tissue_rgb

from crossfusion_core.synthetic.tiff_writer import write_pyramidal_tiff
from crossfusion_core.wsi.slide import slide_geometry

LEVEL0_MPP = 0.5


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return tissue_rgb(LEVEL0_MPP)


@pytest.mark.parametrize(
    ("compression", "colour_space", "tiff_compression", "photometric", "min_psnr_db"),
    [
        ("jpeg", "ycbcr", tifffile.COMPRESSION.JPEG, tifffile.PHOTOMETRIC.YCBCR, 35.0),
        ("jpeg", "rgb", tifffile.COMPRESSION.JPEG, tifffile.PHOTOMETRIC.RGB, 35.0),
        ("deflate", "ycbcr", tifffile.COMPRESSION.DEFLATE, tifffile.PHOTOMETRIC.RGB, np.inf),
        ("lzw", "ycbcr", tifffile.COMPRESSION.LZW, tifffile.PHOTOMETRIC.RGB, np.inf),
    ],
)
def test_openslide_reads_the_pyramid_resolution_and_pixels(
    tmp_path, rgb, compression, colour_space, tiff_compression, photometric, min_psnr_db
):
    path = write_pyramidal_tiff(
        tmp_path / "slide.tif", rgb, LEVEL0_MPP, compression=compression, jpeg_colour_space=colour_space
    )
    geometry = slide_geometry(path)
    assert geometry.vendor == "generic-tiff"
    assert geometry.level0_mpp == pytest.approx(LEVEL0_MPP)
    assert geometry.level_dimensions == ((2048, 1536), (512, 384), (128, 96))
    with tifffile.TiffFile(path) as tiff:
        assert {(p.compression, p.photometric) for p in tiff.pages} == {(tiff_compression, photometric)}
        assert [p.subfiletype for p in tiff.pages] == [0, 1, 1]
    slide = openslide.OpenSlide(str(path))
    read = np.asarray(slide.read_region((0, 0), 0, geometry.level_dimensions[0]).convert("RGB"))
    mse = np.mean((read.astype(np.float64) - rgb) ** 2)
    psnr_db = 10 * np.log10(255**2 / mse) if mse else np.inf
    assert psnr_db >= min_psnr_db


def test_bad_arguments_are_refused(tmp_path, rgb):
    with pytest.raises(ValueError, match="compression"):
        write_pyramidal_tiff(tmp_path / "a.tif", rgb, LEVEL0_MPP, compression="webp")
    with pytest.raises(ValueError, match="multiple of 16"):
        write_pyramidal_tiff(tmp_path / "b.tif", rgb, LEVEL0_MPP, tile_size_px=250)
    with pytest.raises(ValueError, match="downsamples"):
        write_pyramidal_tiff(tmp_path / "c.tif", rgb, LEVEL0_MPP, downsamples=(2, 4))
    assert not list(tmp_path.iterdir())
