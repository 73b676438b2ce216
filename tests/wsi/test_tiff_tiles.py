"""Regions decoded straight from TIFF tiles equal OpenSlide's, on SVS and generic pyramidal TIFFs."""

from __future__ import annotations

import dataclasses
import pickle
import shutil
from pathlib import Path

import numpy as np
import openslide
import pytest
import tifffile
from fixture_slides import tissue_rgb
from PIL import Image

from crossfusion_core.synthetic.tiff_writer import write_pyramidal_tiff
from crossfusion_core.wsi.slide import slide_geometry
from crossfusion_core.wsi.tiff_tiles import TiffTiles, TileDecodeError, UnsupportedLayout, tiff_levels

BOXES_AT_LEVEL = [
    (0, 0, 512, 512),  # on the tile grid
    (100, 37, 700, 301),  # across tile edges, odd offsets
    (3900, 2900, 4300, 3200),  # past the right and bottom edge of a 40x level 0: white there
]


@pytest.fixture(scope="module")
def generic_tiffs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 40x generic TIFF per tile coding: JPEG in YCbCr and in RGB, and deflate."""
    folder = tmp_path_factory.mktemp("generic")
    rgb = tissue_rgb(0.25)
    codings = {"jpeg_ycbcr": ("jpeg", "ycbcr"), "jpeg_rgb": ("jpeg", "rgb"), "deflate": ("deflate", "ycbcr")}
    return {
        name: write_pyramidal_tiff(
            folder / f"{name}.tif", rgb, 0.25, compression=compression, jpeg_colour_space=colour_space
        )
        for name, (compression, colour_space) in codings.items()
    }


def _openslide_rgb(path: Path, level: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """OpenSlide's pixels of ``box`` (in ``level``'s pixels), transparent areas white."""
    slide = openslide.OpenSlide(str(path))
    downsample = slide.level_downsamples[level]
    left, top, right, bottom = box
    rgba = slide.read_region(
        (round(left * downsample), round(top * downsample)), level, (right - left, bottom - top)
    )
    slide.close()
    white = Image.new("RGB", rgba.size, (255, 255, 255))
    white.paste(rgba, mask=rgba.getchannel("A"))
    return np.asarray(white)


def _tiles(path: Path) -> TiffTiles:
    return TiffTiles(path, tiff_levels(slide_geometry(path)))


def _slide(request: pytest.FixtureRequest, name: str) -> Path:
    if name in ("svs_40x", "cmu_svs"):
        return request.getfixturevalue(name)
    return request.getfixturevalue("generic_tiffs")[name]


@pytest.mark.parametrize("name", ["svs_40x", "jpeg_ycbcr", "jpeg_rgb", "deflate"])
@pytest.mark.parametrize("level", [0, 1])
def test_regions_equal_openslide(request, name, level):
    path = _slide(request, name)
    tiles = _tiles(path)
    for box in BOXES_AT_LEVEL:
        box = box if level == 0 else tuple(v // 4 for v in box)
        np.testing.assert_array_equal(np.asarray(tiles.region(level, box)), _openslide_rgb(path, level, box))


def test_real_aperio_scan_with_jpeg_tables_equals_openslide(cmu_svs):
    """CMU-1's tiles are 240 px, RGB-coded JPEG with the tables in the JPEGTables tag."""
    tiles = _tiles(cmu_svs)
    with tifffile.TiffFile(cmu_svs) as tiff:
        assert tiff.pages[0].jpegtables and tiff.pages[0].photometric == tifffile.PHOTOMETRIC.RGB
    for box in [(0, 0, 480, 480), (250, 1000, 1290, 1514), (2000, 2800, 2300, 3000)]:
        np.testing.assert_array_equal(np.asarray(tiles.region(0, box)), _openslide_rgb(cmu_svs, 0, box))


@pytest.mark.parametrize("box", [(512, 256, 1536, 1280), (514, 250, 1538, 1274), (101, 51, 611, 561)])
def test_reducing_tile_by_tile_gives_the_reduced_region(svs_40x, box):
    """On the tile grid each tile is reduced on its own (even offsets); off it the region is composed."""
    tiles = _tiles(svs_40x)
    whole = Image.fromarray(tiles.region(0, box)).reduce(2)
    np.testing.assert_array_equal(np.asarray(tiles.region(0, box, factor=2)), np.asarray(whole))


def test_layouts_it_cannot_decode_are_named(tmp_path, svs_40x):
    geometry = slide_geometry(svs_40x)
    with pytest.raises(UnsupportedLayout, match="hamamatsu"):
        tiff_levels(dataclasses.replace(geometry, vendor="hamamatsu"))
    planar = tmp_path / "planar.tif"
    rgb = tissue_rgb(1.0)
    tifffile.imwrite(planar, np.moveaxis(rgb, -1, 0), tile=(256, 256), photometric="rgb", metadata=None)
    with pytest.raises(UnsupportedLayout, match="not 8-bit interleaved RGB"):
        tiff_levels(slide_geometry(planar, mpp_override=1.0))


def _damaged_copy(source: Path, target: Path, how: str) -> Path:
    """A copy whose first level-0 tile is damaged: ``head`` zeroes its JPEG header, ``tail`` its last
    bytes (as a truncated download), ``missing`` sets its byte count to 0 (a tile the scanner skipped)."""
    shutil.copy(source, target)
    with tifffile.TiffFile(target) as tiff:
        page = tiff.pages[0]
        offset, count = page.dataoffsets[0], page.databytecounts[0]
        counts_tag = page.tags["TileByteCounts"]
        counts_at, count_size = counts_tag.valueoffset, counts_tag.valuebytecount // counts_tag.count
    with open(target, "r+b") as handle:
        handle.seek({"head": offset, "tail": offset + count - 64, "missing": counts_at}[how])
        handle.write(b"\0" * (count_size if how == "missing" else 64))
    return target


@pytest.mark.parametrize("how", ["head", "tail"])
def test_a_damaged_tile_is_named(tmp_path, svs_40x, how):
    tiles = _tiles(_damaged_copy(svs_40x, tmp_path / "damaged.svs", how))
    with pytest.raises(TileDecodeError, match=r"tile \(column 0, row 0\) of pyramid level 0, \d+ bytes at"):
        tiles.region(0, (0, 0, 512, 512))
    np.testing.assert_array_equal(
        np.asarray(tiles.region(0, (256, 0, 768, 256))), _openslide_rgb(svs_40x, 0, (256, 0, 768, 256))
    )


def test_a_slide_with_missing_tiles_is_left_to_openslide(tmp_path, svs_40x):
    """OpenSlide's Aperio driver makes a missing tile's area transparent in every level: its rule."""
    sparse = _damaged_copy(svs_40x, tmp_path / "sparse.svs", "missing")
    with pytest.raises(UnsupportedLayout, match="page 0 does not store 1 of its tiles"):
        tiff_levels(slide_geometry(sparse))


def test_handles_are_dropped_on_pickling_and_reopened(svs_40x):
    tiles = _tiles(svs_40x)
    before = np.asarray(tiles.region(1, (0, 0, 300, 200)))
    copy = pickle.loads(pickle.dumps(tiles))
    assert copy._tiff is None and not copy._cache
    np.testing.assert_array_equal(np.asarray(copy.region(1, (0, 0, 300, 200))), before)
