"""Reading the pixels of multi-scale patches from a slide, in parallel, touching each region once.

Three strategies, measured in ``benchmarks/bench_feature_io.py`` (see benchmarks/README.md):

``tiles`` (the default) decodes the JPEG tiles of SVS and generic pyramidal TIFF slides itself, each
once (:mod:`crossfusion_core.wsi.tiff_tiles`); a work item is one 5x patch with its 10x children and
their 20x children, so the tiles they share are decoded by one process. Other formats, and TIFF
layouts it does not know, are read through OpenSlide with the same work items.

``shared`` reads through OpenSlide, whose cost is per pixel painted (its compositing costs more than
the JPEG decode), so it paints each level-0 pixel once. ``per_patch`` reads every patch on its own at
its own best level, the way CLAM does.

``tiles`` and ``shared`` give the same pixels: a 10x patch and its 20x children are cut from one region
at the finest scale's resolution (the 10x patch by area-averaging it: a box average of level 0 on a
20x or 40x scan), other patches (5x) come from their own best pyramid level. ``per_patch`` reads 10x
patches from their own level instead.

Items are produced in DataLoader worker processes, each with its own file handles, into shared
buffers they reuse (:mod:`crossfusion_core.features.pixel_buffers`). A region that cannot be decoded
comes back as a :class:`ReadFailure` value rather than being raised in the worker, because the
DataLoader would re-raise it as a bare RuntimeError and lose the slide and location.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from crossfusion_core.errors import PipelineInputError, SlideReadError
from crossfusion_core.features.patch_table import PatchTable
from crossfusion_core.features.pixel_buffers import PixelBuffers, release, release_when_freed
from crossfusion_core.features.regions import region_reader
from crossfusion_core.wsi.resampling import area_resized
from crossfusion_core.wsi.slide import SlideGeometry

PATCHES_PER_CHUNK = 16
"""Patches per work item when the patches file has no parent links to group them by."""
BUFFERS_PER_READER = 8
"""Shared pixel buffers per reader process: the DataLoader's prefetched items plus the few blocks the
main process holds while it fills a batch."""


@dataclass(frozen=True)
class ReadFailure:
    """A :class:`SlideReadError` in picklable form (its custom constructor defeats pickling)."""

    path: Path
    problem: str
    fix: str | None

    def error(self) -> SlideReadError:
        return SlideReadError(self.path, self.problem, self.fix)


@dataclass(frozen=True)
class PatchBlock:
    """Pixels of some patches: which scale (position in the table) and row each one is.

    A block from a reader process may hold the lease of the shared buffer its pixels are in; arriving
    in the main process, the lease is set to be cleared when those pixels are freed there.
    """

    scale_positions: torch.Tensor
    rows: torch.Tensor
    pixels_rgb: torch.Tensor
    lease: torch.Tensor | None = None

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.lease is not None:
            release_when_freed(self.pixels_rgb, self.lease)

    def __len__(self) -> int:
        return len(self.rows)

    def pin_memory(self) -> PatchBlock:
        """Called by the DataLoader's pinning thread so the host-to-GPU copy can run asynchronously."""
        return PatchBlock(self.scale_positions, self.rows, self.pixels_rgb.pin_memory())

    def to(self, device: torch.device) -> PatchBlock:
        return PatchBlock(self.scale_positions, self.rows, self.pixels_rgb.to(device, non_blocking=True))

    def take(self, start: int, stop: int | None = None) -> PatchBlock:
        span = slice(start, stop)
        return PatchBlock(self.scale_positions[span], self.rows[span], self.pixels_rgb[span])

    @staticmethod
    def concat(blocks: list[PatchBlock]) -> PatchBlock:
        if len(blocks) == 1:
            return blocks[0]
        return PatchBlock(*(torch.cat(parts) for parts in zip(*(b.fields() for b in blocks), strict=True)))

    def fields(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.scale_positions, self.rows, self.pixels_rgb


@dataclass(frozen=True)
class ReadGroup:
    """Patches read together: cut from one region read (``shared``) or read one by one."""

    scale_positions: np.ndarray
    rows: np.ndarray
    shared: bool


WorkItem = tuple[ReadGroup, ...]
"""What one DataLoader item reads: its groups' patches, in order, make one :class:`PatchBlock`."""


def work_items(table: PatchTable, strategy: str) -> list[WorkItem]:
    """The work items of a slide, in file order.

    ``shared``: each patch of the second-finest scale with its children (a 10x patch and its four 20x
    patches) is one region read at the finest resolution; coarser scales are read patch by patch at
    their own best level, because cutting a 5x patch from level-0 pixels would decode 16 times more
    pixels than its own pyramid level holds. ``tiles``: the same reads, one item per patch of the third-
    finest scale (a 5x patch) with its families, so the tiles they share are decoded once, by one
    process. ``per_patch`` (or a file without parent links): chunks of patches, each read on its own.
    """
    fine = table.scales[-1]
    if strategy == "per_patch" or len(table.scales) < 2 or fine.parent_index is None:
        return [(group,) for group in _chunks(table, range(len(table.scales)))]
    middle = len(table.scales) - 2
    families = _families(table)
    source = table.scales[middle]
    if strategy != "tiles" or middle == 0 or source.parent_index is None:
        return [(group,) for group in _chunks(table, range(middle))] + [(family,) for family in families]
    coarse = middle - 1
    order, bounds = _children_by_parent(source.parent_index, table.scales[coarse].count)
    parents = [
        (ReadGroup(np.array([coarse]), np.array([row]), shared=False), *(families[i] for i in order[a:b]))
        for row, (a, b) in enumerate(itertools.pairwise(bounds))
    ]
    return [(group,) for group in _chunks(table, range(coarse))] + parents


def _families(table: PatchTable) -> list[ReadGroup]:
    """Each patch of the second-finest scale with its children, in its rows' order."""
    middle = len(table.scales) - 2
    order, bounds = _children_by_parent(table.scales[-1].parent_index, table.scales[middle].count)
    return [
        ReadGroup(
            np.array([middle] + [middle + 1] * (b - a)),
            np.concatenate([[parent], order[a:b]]).astype(np.int64),
            shared=True,
        )
        for parent, (a, b) in enumerate(itertools.pairwise(bounds))
    ]


def _children_by_parent(parent_index: np.ndarray, parent_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Child rows sorted by parent (stable) and where each parent's run starts: run ``p`` is
    ``order[bounds[p]:bounds[p + 1]]``."""
    order = np.argsort(parent_index, kind="stable")
    return order, np.searchsorted(parent_index[order], np.arange(parent_count + 1))


def _chunks(table: PatchTable, positions: Iterable[int]) -> list[ReadGroup]:
    groups = []
    for position in positions:
        count = table.scales[position].count
        for start in range(0, count, PATCHES_PER_CHUNK):
            rows = np.arange(start, min(start + PATCHES_PER_CHUNK, count))
            groups.append(ReadGroup(np.full(len(rows), position), rows, shared=False))
    return groups


class PatchPixels(Dataset):
    """Map-style dataset: item ``i`` is the :class:`PatchBlock` of work item ``i``."""

    def __init__(self, geometry: SlideGeometry, table: PatchTable, strategy: str, retries: int = 2) -> None:
        self.geometry = geometry
        self.table = table
        self.strategy = strategy
        self.items = work_items(table, strategy)
        self.patch_size_px = _common_patch_size(table)
        self.regions = region_reader(geometry, strategy == "tiles", retries)
        most_patches = max((sum(len(group.rows) for group in item) for item in self.items), default=0)
        self.buffers = PixelBuffers(most_patches * self.patch_size_px**2 * 3, BUFFERS_PER_READER)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> PatchBlock | ReadFailure:
        groups = self.items[index]
        positions = np.concatenate([group.scale_positions for group in groups])
        rows = np.concatenate([group.rows for group in groups])
        side = self.patch_size_px
        pixels, lease = self.buffers.take((len(rows), side, side, 3))
        start = 0
        try:
            for group in groups:
                stop = start + len(group.rows)
                self._read_group(group, pixels[start:stop].numpy())
                start = stop
        except SlideReadError as error:
            release(lease)
            return ReadFailure(error.path, error.problem, error.fix)
        return PatchBlock(torch.from_numpy(positions), torch.from_numpy(rows), pixels, lease)

    def _read_group(self, group: ReadGroup, out: np.ndarray) -> None:
        if group.shared:
            self._read_shared(group.scale_positions, group.rows, out)
        else:
            for i, (position, row) in enumerate(zip(group.scale_positions, group.rows, strict=True)):
                out[i] = self._read_one(int(position), int(row))

    def _read_one(self, position: int, row: int) -> np.ndarray:
        scale = self.table.scales[position]
        downsample = scale.patch_size_level0 / scale.patch_size_px
        level = self.geometry.best_level_for_mpp(downsample * self.geometry.level0_mpp)
        side_at_level = max(1, round(scale.patch_size_level0 / self.geometry.level_downsamples[level]))
        x, y = (int(v) for v in scale.coords_level0[row])
        side = self.patch_size_px
        return self.regions.image((x, y), level, (side_at_level, side_at_level), (side, side))

    def _read_shared(self, positions: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
        finest = self.table.scales[int(positions.max())]
        downsample = finest.patch_size_level0 / finest.patch_size_px
        corners = np.stack(
            [self.table.scales[p].coords_level0[r] for p, r in zip(positions, rows, strict=True)]
        )
        sizes = np.array([self.table.scales[p].patch_size_level0 for p in positions])
        origin = corners.min(axis=0)
        extent_level0 = (corners + sizes[:, None]).max(axis=0) - origin
        region = self._read_region_at(tuple(int(v) for v in origin), extent_level0, downsample)
        for i, (corner, size_level0) in enumerate(zip(corners, sizes, strict=True)):
            left, top = (int(v) for v in np.rint((corner - origin) / downsample))
            side = round(size_level0 / downsample)
            box = (left, top, left + side, top + side)
            out[i] = area_resized(region, (self.patch_size_px, self.patch_size_px), box)

    def _read_region_at(
        self, origin: tuple[int, int], extent_level0: np.ndarray, downsample: float
    ) -> np.ndarray:
        """The level-0 box at ``origin`` with ``extent_level0``, at ``downsample`` px per level-0 px."""
        level = self.geometry.best_level_for_mpp(downsample * self.geometry.level0_mpp)
        level_downsample = self.geometry.level_downsamples[level]
        size_at_level = tuple(max(1, math.ceil(e / level_downsample)) for e in extent_level0)
        out_size = tuple(max(1, round(e / downsample)) for e in extent_level0)
        return self.regions.image(origin, level, size_at_level, out_size)


def _common_patch_size(table: PatchTable) -> int:
    sizes = {scale.patch_size_px for scale in table.scales}
    if len(sizes) != 1:
        raise PipelineInputError(
            table.path,
            f"scales have different patch sizes {sorted(sizes)} px",
            "use one patching.patch_size_px",
        )
    return sizes.pop()
