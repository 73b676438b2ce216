"""Aligned multi-scale patch coordinates: each 10x patch with its 5x parent and its four 20x children.

Sizes are set by mpp, not pyramid levels, so 40x and 20x scans give the same physical patches. The
finest patch side is rounded to whole level-0 pixels and the coarser ones are exact multiples of it,
so a parent covers its children exactly in integer level-0 coordinates (on a 0.499 um/px scan the
patches are 0.2% larger than nominal, which no encoder notices).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from crossfusion_core.io import atomic_path
from crossfusion_core.scales import SCALES, children_per_side
from crossfusion_core.slide_batches import run_per_slide
from crossfusion_core.wsi.segmentation import TissueMask, segment_thumbnail
from crossfusion_core.wsi.settings import PatchingSettings, SegmentationSettings
from crossfusion_core.wsi.slide import SlideGeometry
from crossfusion_core.wsi.thumbnail import read_thumbnail

QC_MPP = 8.0
COARSE, SOURCE, FINE = SCALES


@dataclass(frozen=True)
class ScaleGrid:
    """Patches at one magnification: level-0 top-left corners and the row of each one's parent."""

    magnification: int
    size_level0: int
    coords_level0: np.ndarray
    parent_index: np.ndarray | None


@dataclass(frozen=True)
class PatchGrids:
    """The three aligned bags of one slide, coarse to fine."""

    coarse: ScaleGrid
    source: ScaleGrid
    fine: ScaleGrid
    source_tissue_fraction: np.ndarray

    @property
    def empty(self) -> bool:
        return len(self.source.coords_level0) == 0

    @property
    def by_scale(self) -> tuple[ScaleGrid, ScaleGrid, ScaleGrid]:
        """The grids in the order of the scale table, coarsest first."""
        return self.coarse, self.source, self.fine


@dataclass(frozen=True)
class SlideWsiFiles:
    """Where one slide's segmentation and patching results go (file contract: docs/architecture.md)."""

    mask: Path
    tissue_qc: Path
    patches: Path
    patches_qc: Path


def segment_and_patch(
    slide_path: str | Path,
    segmentation: SegmentationSettings,
    patching: PatchingSettings,
    mpp_override: float | None,
    files: SlideWsiFiles,
) -> PatchGrids:
    """The tissue mask of ``slide_path`` and the aligned grids over it, each with its QC figure.

    One process does both because the two share their slow part, opening the slide and reading its
    thumbnail: the patch QC figure is drawn on the mask's thumbnail when both are at ``QC_MPP``.
    """
    rgb, geometry = read_thumbnail(slide_path, segmentation.mask_mpp, mpp_override)
    tissue = segment_thumbnail(rgb, geometry, segmentation, files.mask, files.tissue_qc)
    grids = aligned_patch_grids(geometry, tissue, patching)
    write_patches(files.patches, grids, geometry, patching)
    if segmentation.mask_mpp != QC_MPP:
        rgb, _ = read_thumbnail(slide_path, QC_MPP, mpp_override)
    write_patch_qc(files.patches_qc, rgb, grids, geometry)
    return grids


def segment_and_patch_batch(
    slide_paths: Mapping[str, Path],
    mpp_overrides: Mapping[str, float | None],
    segmentation: SegmentationSettings,
    patching: PatchingSettings,
    folder: str | Path,
    file_names: Mapping[str, str],
) -> list[str]:
    """:func:`segment_and_patch` for every slide of a batch, into ``folder/{slide}/{file_names[...]}``
    (keys: the fields of :class:`SlideWsiFiles`); returns the slides whose input was unusable."""
    return run_per_slide(
        folder,
        list(slide_paths),
        lambda slide_id, slide_folder: segment_and_patch(
            slide_paths[slide_id],
            segmentation,
            patching,
            mpp_overrides.get(slide_id),
            SlideWsiFiles(**{name: slide_folder / file for name, file in file_names.items()}),
        ),
    )


def patch_sizes_level0(geometry: SlideGeometry, settings: PatchingSettings) -> tuple[int, int, int]:
    """Level-0 side of a (coarse, source, fine) patch, each an exact multiple of the next finer."""
    fine = round(settings.patch_size_px * FINE.mpp / geometry.level0_mpp)
    source = fine * children_per_side(SOURCE, FINE)
    return source * children_per_side(COARSE, SOURCE), source, fine


def aligned_patch_grids(
    geometry: SlideGeometry, tissue: TissueMask, settings: PatchingSettings
) -> PatchGrids:
    """Source patches with enough tissue, the coarse parents that cover them and their fine children.

    The source grid is the coarse grid split evenly, so only coarse cells lying wholly inside the slide
    are candidates: every kept patch, parent and child then lies inside the slide.
    """
    coarse_size, source_size, fine_size = patch_sizes_level0(geometry, settings)
    candidates = _grid(geometry.width_level0, geometry.height_level0, coarse_size, source_size)
    fractions = tissue_fractions(tissue, candidates, source_size)
    kept = fractions >= settings.min_tissue_fraction if len(candidates) else np.zeros(0, bool)
    if not tissue.mask.any():
        kept[:] = False
    source_coords, fractions = candidates[kept], fractions[kept]
    parent_cells, source_parent = np.unique(source_coords // coarse_size, axis=0, return_inverse=True)
    coarse_coords = (parent_cells * coarse_size).astype(np.int64).reshape(-1, 2)
    fine_coords, fine_parent = _children(source_coords, fine_size, children_per_side(SOURCE, FINE))
    return PatchGrids(
        coarse=ScaleGrid(COARSE.magnification, coarse_size, coarse_coords, None),
        source=ScaleGrid(
            SOURCE.magnification,
            source_size,
            source_coords,
            source_parent.reshape(-1).astype(np.int64),
        ),
        fine=ScaleGrid(FINE.magnification, fine_size, fine_coords, fine_parent),
        source_tissue_fraction=fractions.astype(np.float32),
    )


def _grid(width_level0: int, height_level0: int, coarse_size: int, source_size: int) -> np.ndarray:
    """(x, y) corners of source cells inside whole coarse cells, row by row (N, 2) int64."""
    columns = (width_level0 // coarse_size) * (coarse_size // source_size)
    rows = (height_level0 // coarse_size) * (coarse_size // source_size)
    ys, xs = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
    return (np.stack([xs.ravel(), ys.ravel()], axis=1) * source_size).astype(np.int64)


def _children(parents: np.ndarray, child_size: int, per_side: int) -> tuple[np.ndarray, np.ndarray]:
    """Corners of each parent's per_side x per_side children (row-major) and their parent rows."""
    offsets = np.array([(dx, dy) for dy in range(per_side) for dx in range(per_side)], np.int64) * child_size
    coords = (parents[:, None, :] + offsets[None, :, :]).reshape(-1, 2)
    parent_rows = np.repeat(np.arange(len(parents), dtype=np.int64), per_side * per_side)
    return coords.astype(np.int64), parent_rows


def tissue_fractions(tissue: TissueMask, coords_level0: np.ndarray, size_level0: int) -> np.ndarray:
    """Share of each square patch covered by tissue, from a summed-area table of the mask."""
    mask = tissue.mask.astype(np.float64)
    rows_per_level0 = mask.shape[0] / tissue.level0_height
    cols_per_level0 = mask.shape[1] / tissue.level0_width
    table = np.pad(mask.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    x0 = np.clip(np.round(coords_level0[:, 0] * cols_per_level0), 0, mask.shape[1]).astype(int)
    x1 = np.clip(np.round((coords_level0[:, 0] + size_level0) * cols_per_level0), 0, mask.shape[1]).astype(
        int
    )
    y0 = np.clip(np.round(coords_level0[:, 1] * rows_per_level0), 0, mask.shape[0]).astype(int)
    y1 = np.clip(np.round((coords_level0[:, 1] + size_level0) * rows_per_level0), 0, mask.shape[0]).astype(
        int
    )
    area = np.maximum((x1 - x0) * (y1 - y0), 1)
    covered = table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
    return covered / area


def write_patches(
    path: str | Path, grids: PatchGrids, geometry: SlideGeometry, settings: PatchingSettings
) -> None:
    """The patches h5 of the file contract; attrs sit on each group and its ``coords`` (CLAM/TRIDENT)."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs.update({"slide_path": str(geometry.path), "empty": grids.empty})
        for scale, grid in zip(SCALES, grids.by_scale, strict=True):
            group = h5.create_group(scale.group)
            coords = group.create_dataset("coords", data=grid.coords_level0.reshape(-1, 2).astype(np.int64))
            attrs = {
                "patch_size": settings.patch_size_px,
                "patch_size_level0": grid.size_level0,
                "target_magnification": grid.magnification,
                "target_mpp": scale.mpp,
                "level0_magnification": geometry.level0_magnification,
                "level0_mpp": geometry.level0_mpp,
            }
            group.attrs.update(attrs)
            coords.attrs.update(attrs)
            if grid.parent_index is not None:
                group.create_dataset("parent_index", data=grid.parent_index.astype(np.int64))
        h5[SOURCE.group].create_dataset("tissue_fraction", data=grids.source_tissue_fraction)


def write_patch_qc(
    path: str | Path, thumbnail: np.ndarray, grids: PatchGrids, geometry: SlideGeometry
) -> None:
    """Thumbnail with the kept 10x patches (cyan) and their 5x parents (yellow)."""
    scale = geometry.level0_mpp / QC_MPP
    figure = Figure(figsize=(6, 6 * thumbnail.shape[0] / max(thumbnail.shape[1], 1) + 0.4), dpi=100)
    axes = figure.add_subplot()
    axes.imshow(thumbnail)
    for grid, colour, width in ((grids.source, "cyan", 0.5), (grids.coarse, "yellow", 1.2)):
        corners = np.array([(0, 0), (1, 0), (1, 1), (0, 1)]) * grid.size_level0
        squares = (grid.coords_level0[:, None, :] + corners[None]) * scale
        axes.add_collection(PolyCollection(squares, facecolors="none", edgecolors=colour, linewidths=width))
    name = Path(geometry.path).name
    counts = ", ".join(
        f"{len(grid.coords_level0)} {scale.group}" for scale, grid in zip(SCALES, grids.by_scale, strict=True)
    )
    axes.set_title(f"{name}\n{counts} patches", fontsize=8)
    axes.set_axis_off()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, bbox_inches="tight")
