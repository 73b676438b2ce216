"""Patches files written to the contract in docs/architecture.md, for the feature tests."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from crossfusion_core.scales import MAGNIFICATIONS, magnification_for_mpp, mpp_for_magnification
from crossfusion_core.wsi.slide import slide_geometry

PATCH_SIZE_PX = 256


def write_patch_grid(path: Path, slide_path: Path, keep_20x: slice = slice(None)) -> Path:
    """An aligned 5x/10x/20x grid over the whole slide: each 5x patch has 4 10x and 16 20x children.

    ``keep_20x`` selects which 20x patches survive, to make families with missing members.
    """
    geometry = slide_geometry(slide_path)
    sizes_level0 = {
        m: round(PATCH_SIZE_PX * mpp_for_magnification(m) / geometry.level0_mpp) for m in MAGNIFICATIONS
    }
    step = sizes_level0[5]
    coords = {
        5: np.array(
            [
                (x, y)
                for y in range(0, geometry.height_level0 - step + 1, step)
                for x in range(0, geometry.width_level0 - step + 1, step)
            ],
            np.int64,
        ).reshape(-1, 2)
    }
    parents: dict[int, np.ndarray] = {}
    for coarse, fine in ((5, 10), (10, 20)):
        children, parent = _children(coords[coarse], sizes_level0[coarse], sizes_level0[fine])
        coords[fine], parents[fine] = children, parent
    coords[20], parents[20] = coords[20][keep_20x], parents[20][keep_20x]
    with h5py.File(path, "w") as handle:
        handle.attrs["slide_path"] = str(slide_path)
        handle.attrs["empty"] = len(coords[5]) == 0
        for m in MAGNIFICATIONS:
            group = handle.create_group(f"x{m}")
            group.create_dataset("coords", data=coords[m])
            if m in parents:
                group.create_dataset("parent_index", data=parents[m])
            group.attrs.update(
                patch_size=PATCH_SIZE_PX,
                patch_size_level0=sizes_level0[m],
                target_magnification=m,
                target_mpp=mpp_for_magnification(m),
                level0_magnification=magnification_for_mpp(geometry.level0_mpp),
                level0_mpp=geometry.level0_mpp,
            )
    return path


def _children(coarse: np.ndarray, coarse_size: int, fine_size: int) -> tuple[np.ndarray, np.ndarray]:
    per_side = coarse_size // fine_size
    offsets = np.array([(dx * fine_size, dy * fine_size) for dy in range(per_side) for dx in range(per_side)])
    children = (coarse[:, None, :] + offsets[None]).reshape(-1, 2)
    parent = np.repeat(np.arange(len(coarse)), len(offsets))
    return children.astype(np.int64), parent.astype(np.int64)


def write_empty_patches(path: Path, slide_path: Path) -> Path:
    """A patches file of a slide with no tissue: every scale has zero coordinates."""
    write_patch_grid(path, slide_path)
    with h5py.File(path, "r+") as handle:
        for m in MAGNIFICATIONS:
            group = handle[f"x{m}"]
            for name in list(group):
                del group[name]
            group.create_dataset("coords", data=np.zeros((0, 2), np.int64))
            if m != 5:
                group.create_dataset("parent_index", data=np.zeros(0, np.int64))
        handle.attrs["empty"] = True
    return path
