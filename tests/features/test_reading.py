"""The ``tiles`` reader gives OpenSlide's pixels (the ``shared`` reader's) from each tile decoded once."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
from fixture_slides import tissue_rgb
from torch.utils.data import DataLoader

from crossfusion_core.features.patch_table import read_patch_table
from crossfusion_core.features.reading import PatchPixels, ReadFailure, work_items
from crossfusion_core.features.regions import OpenSlideRegions, TiffTileRegions
from crossfusion_core.synthetic.tiff_writer import write_pyramidal_tiff
from crossfusion_core.wsi.slide import slide_geometry
from features.patch_files import MAGNIFICATIONS, write_patch_grid

MIN_PSNR_DB = 50.0
"""Both readers use libjpeg-turbo with the same colour space and upsampling, so the pixels come out
identical (PSNR infinite); 50 dB leaves room for another libjpeg build's rounding, while a wrong colour
space (~20 dB) or a one-pixel shift (~30 dB) fails."""


def _patches(dataset: PatchPixels, workers: int = 0) -> dict[tuple[int, int], np.ndarray] | list[ReadFailure]:
    """Every patch of ``dataset`` keyed by (scale position, row), or the failures if any item failed."""
    patches, failures = {}, []
    for block in DataLoader(dataset, batch_size=None, num_workers=workers):
        if isinstance(block, ReadFailure):
            failures.append(block)
            continue
        for position, row, pixels in zip(
            block.scale_positions.tolist(), block.rows.tolist(), block.pixels_rgb.numpy(), strict=True
        ):
            assert (position, row) not in patches, "a patch was read twice"
            patches[(position, row)] = pixels
    return failures or patches


def _readers(slide: Path, patches_h5: Path) -> tuple[PatchPixels, PatchPixels]:
    table = read_patch_table(patches_h5, MAGNIFICATIONS)
    geometry = slide_geometry(slide)
    return PatchPixels(geometry, table, "tiles"), PatchPixels(geometry, table, "shared")


def _psnr_db_by_magnification(tiles: dict, shared: dict, table_counts: list[int]) -> list[float]:
    result = []
    for position, count in enumerate(table_counts):
        diff = np.stack(
            [tiles[(position, r)].astype(np.float64) - shared[(position, r)] for r in range(count)]
        )
        mse = float(np.mean(diff**2))
        result.append(10 * np.log10(255**2 / mse) if mse else np.inf)
    return result


def _assert_same_pixels(tiles_reader: PatchPixels, shared_reader: PatchPixels) -> None:
    tiles, shared = _patches(tiles_reader), _patches(shared_reader)
    assert tiles.keys() == shared.keys() and len(tiles) == tiles_reader.table.total
    counts = [scale.count for scale in tiles_reader.table.scales]
    psnr_db = _psnr_db_by_magnification(tiles, shared, counts)
    assert min(psnr_db) >= MIN_PSNR_DB, dict(zip(MAGNIFICATIONS, psnr_db, strict=True))


@pytest.mark.parametrize("slide", ["svs_40x", "svs_20x", "cmu_svs"])
def test_tiles_reader_gives_openslides_pixels_on_svs(request, tmp_path, slide):
    path = request.getfixturevalue(slide)
    tiles, shared = _readers(path, write_patch_grid(tmp_path / "patches.h5", path))
    assert isinstance(tiles.regions, TiffTileRegions) and isinstance(shared.regions, OpenSlideRegions)
    _assert_same_pixels(tiles, shared)


@pytest.mark.parametrize("colour_space", ["ycbcr", "rgb"])
def test_tiles_reader_gives_openslides_pixels_on_a_generic_tiff(tmp_path, colour_space):
    path = write_pyramidal_tiff(
        tmp_path / "slide.tif", tissue_rgb(0.25), 0.25, jpeg_colour_space=colour_space
    )
    tiles, shared = _readers(path, write_patch_grid(tmp_path / "patches.h5", path))
    assert isinstance(tiles.regions, TiffTileRegions)
    _assert_same_pixels(tiles, shared)


def test_off_grid_patches_and_the_slide_edge(tmp_path, svs_40x):
    """Patches 100 px off the tile grid (tiles shared between regions) and past the slide's edge."""
    patches_h5 = write_patch_grid(tmp_path / "patches.h5", svs_40x)
    with h5py.File(patches_h5, "r+") as handle:
        for magnification in MAGNIFICATIONS:
            handle[f"x{magnification}/coords"][...] += 100
    _assert_same_pixels(*_readers(svs_40x, patches_h5))


def test_a_layout_it_cannot_decode_is_read_by_openslide(tmp_path):
    path = tmp_path / "planar.tif"
    tifffile.imwrite(
        path,
        np.moveaxis(tissue_rgb(0.5), -1, 0),
        tile=(256, 256),
        photometric="rgb",
        resolution=(20_000, 20_000),
        resolutionunit="CENTIMETER",
        metadata=None,
    )
    tiles, shared = _readers(path, write_patch_grid(tmp_path / "patches.h5", path))
    assert isinstance(tiles.regions, OpenSlideRegions)
    _assert_same_pixels(tiles, shared)


def test_work_items_hold_a_5x_patch_with_its_descendants_each_patch_once(tmp_path, svs_40x):
    table = read_patch_table(write_patch_grid(tmp_path / "patches.h5", svs_40x), MAGNIFICATIONS)
    items = work_items(table, "tiles")
    assert len(items) == table.scales[0].count
    seen = []
    for item in items:
        coarse, *families = item
        assert coarse.scale_positions.tolist() == [0] and not coarse.shared
        for family in families:
            source_row = int(family.rows[0])
            assert family.shared and table.scales[1].parent_index[source_row] == coarse.rows[0]
            assert (table.scales[2].parent_index[family.rows[1:]] == source_row).all()
        seen += [(int(p), int(r)) for g in item for p, r in zip(g.scale_positions, g.rows, strict=True)]
    assert len(seen) == len(set(seen)) == table.total


def test_reader_processes_give_the_same_patches(tmp_path, svs_40x):
    tiles, _ = _readers(svs_40x, write_patch_grid(tmp_path / "patches.h5", svs_40x))
    in_process, in_workers = _patches(tiles), _patches(tiles, workers=2)
    assert in_process.keys() == in_workers.keys()
    assert all(np.array_equal(in_process[key], in_workers[key]) for key in in_process)


def _damaged_copy(source: Path, target: Path, how: str) -> Path:
    """``head``: the first level-0 tile's JPEG header zeroed; ``missing``: its byte count set to 0."""
    shutil.copy(source, target)
    with tifffile.TiffFile(target) as tiff:
        page = tiff.pages[0]
        counts = page.tags["TileByteCounts"]
        where = page.dataoffsets[0] if how == "head" else counts.valueoffset
        size = 64 if how == "head" else counts.valuebytecount // counts.count
    with open(target, "r+b") as handle:
        handle.seek(where)
        handle.write(b"\0" * size)
    return target


def test_a_corrupt_tile_comes_back_as_a_failure_naming_slide_and_location(tmp_path, svs_40x):
    broken = _damaged_copy(svs_40x, tmp_path / "BROKEN.svs", "head")
    tiles, _ = _readers(broken, write_patch_grid(tmp_path / "patches.h5", broken))
    failures = _patches(tiles, workers=1)
    assert isinstance(failures, list) and len(failures) == 1
    message = str(failures[0].error())
    assert str(broken) in message and "x=0, y=0" in message and "3 attempts" in message
    assert "tile (column 0, row 0) of pyramid level 0" in message


def test_a_slide_with_a_missing_tile_is_read_by_openslide(tmp_path, svs_40x):
    sparse = _damaged_copy(svs_40x, tmp_path / "SPARSE.svs", "missing")
    tiles, shared = _readers(sparse, write_patch_grid(tmp_path / "patches.h5", sparse))
    assert isinstance(tiles.regions, OpenSlideRegions)
    _assert_same_pixels(tiles, shared)
