"""Reading the pixels of multi-scale patches from a slide, in parallel, touching each region once.

OpenSlide's cost is per pixel painted (its tile compositing costs more than the JPEG decode), so the
aim is to paint each level-0 pixel once. With the ``shared`` strategy one region read at the finest
scale's resolution gives a 10x patch and its four 20x patches (the 10x one by area-averaging), and 5x
patches are read at their own pyramid level; ``per_patch`` reads every patch on its own at its own
best level, the way CLAM does. ``benchmarks/bench_feature_io.py`` measured both, and reading the whole
5x footprint at 20x resolution: see the config default and the benchmark's docstring.

Items are produced in DataLoader worker processes, each with its own OpenSlide handle. A region that
cannot be decoded comes back as a :class:`ReadFailure` value rather than being raised in the worker,
because the DataLoader would re-raise it as a bare RuntimeError and lose the slide and location.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openslide
import torch
from PIL import Image
from torch.utils.data import Dataset

from crossfusion_core.errors import PipelineInputError, SlideReadError
from crossfusion_core.features.patch_table import PatchTable
from crossfusion_core.wsi.slide import SlideGeometry, open_slide

WHITE = 255
OPAQUE = 255
PATCHES_PER_CHUNK = 16
"""Patches per work item when the patches file has no parent links to group them by."""


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
    """Pixels of some patches: which scale (position in the table) and row each one is."""

    scale_positions: torch.Tensor
    rows: torch.Tensor
    pixels_rgb: torch.Tensor

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
class WorkGroup:
    """Patches produced by one work item; ``shared`` ones are cut from a single region read."""

    scale_positions: np.ndarray
    rows: np.ndarray
    shared: bool


def work_groups(table: PatchTable, strategy: str) -> list[WorkGroup]:
    """The work items of a slide, in file order.

    ``shared``: each patch of the second-finest scale with its children (a 10x patch and its four 20x
    patches) is one region read at the finest resolution; coarser scales are read patch by patch at
    their own best level, because cutting a 5x patch from level-0 pixels would decode 16 times more
    pixels than its own pyramid level holds. ``per_patch`` (or a file without parent links): chunks of
    patches, each read on its own.
    """
    fine = table.scales[-1]
    if strategy != "shared" or len(table.scales) < 2 or fine.parent_index is None:
        return _chunks(table, range(len(table.scales)))
    middle = len(table.scales) - 2
    order = np.argsort(fine.parent_index, kind="stable")
    bounds = np.searchsorted(fine.parent_index[order], np.arange(table.scales[middle].count + 1))
    families = [
        WorkGroup(
            np.array([middle] + [middle + 1] * (b - a)),
            np.concatenate([[parent], order[a:b]]).astype(np.int64),
            shared=True,
        )
        for parent, (a, b) in enumerate(itertools.pairwise(bounds))
    ]
    return _chunks(table, range(middle)) + families


def _chunks(table: PatchTable, positions: Iterable[int]) -> list[WorkGroup]:
    groups = []
    for position in positions:
        count = table.scales[position].count
        for start in range(0, count, PATCHES_PER_CHUNK):
            rows = np.arange(start, min(start + PATCHES_PER_CHUNK, count))
            groups.append(WorkGroup(np.full(len(rows), position), rows, shared=False))
    return groups


class PatchPixels(Dataset):
    """Map-style dataset: item ``i`` is the :class:`PatchBlock` of work group ``i``."""

    def __init__(self, geometry: SlideGeometry, table: PatchTable, strategy: str, retries: int = 2) -> None:
        self.geometry = geometry
        self.table = table
        self.strategy = strategy
        self.retries = retries
        self.groups = work_groups(table, strategy)
        self.patch_size_px = _common_patch_size(table)
        self._slide: openslide.OpenSlide | None = None

    def __len__(self) -> int:
        return len(self.groups)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_slide"] = None
        return state

    def __getitem__(self, index: int) -> PatchBlock | ReadFailure:
        group = self.groups[index]
        positions, rows = group.scale_positions, group.rows
        try:
            if group.shared:
                pixels = self._read_shared(positions, rows)
            else:
                pixels = np.stack([self._read_one(p, r) for p, r in zip(positions, rows, strict=True)])
        except SlideReadError as error:
            return ReadFailure(error.path, error.problem, error.fix)
        return PatchBlock(torch.from_numpy(positions), torch.from_numpy(rows), torch.from_numpy(pixels))

    def _read_one(self, position: int, row: int) -> np.ndarray:
        scale = self.table.scales[position]
        downsample = scale.patch_size_level0 / scale.patch_size_px
        level = self.geometry.best_level_for_mpp(downsample * self.geometry.level0_mpp)
        side_at_level = max(1, round(scale.patch_size_level0 / self.geometry.level_downsamples[level]))
        x, y = (int(v) for v in scale.coords_level0[row])
        image = self._read_rgb((x, y), level, (side_at_level, side_at_level))
        return np.asarray(_resized(image, (self.patch_size_px, self.patch_size_px)))

    def _read_shared(self, positions: np.ndarray, rows: np.ndarray) -> np.ndarray:
        finest = self.table.scales[int(positions.max())]
        downsample = finest.patch_size_level0 / finest.patch_size_px
        corners = np.stack(
            [self.table.scales[p].coords_level0[r] for p, r in zip(positions, rows, strict=True)]
        )
        sizes = np.array([self.table.scales[p].patch_size_level0 for p in positions])
        origin = corners.min(axis=0)
        extent_level0 = (corners + sizes[:, None]).max(axis=0) - origin
        region = self._read_region_at(tuple(int(v) for v in origin), extent_level0, downsample)
        patches = np.empty((len(rows), self.patch_size_px, self.patch_size_px, 3), np.uint8)
        for i, (corner, size_level0) in enumerate(zip(corners, sizes, strict=True)):
            left, top = (int(v) for v in np.rint((corner - origin) / downsample))
            side = round(size_level0 / downsample)
            crop = region.crop((left, top, left + side, top + side))
            patches[i] = np.asarray(_resized(crop, (self.patch_size_px, self.patch_size_px)))
        return patches

    def _read_region_at(
        self, origin: tuple[int, int], extent_level0: np.ndarray, downsample: float
    ) -> Image.Image:
        """The level-0 box at ``origin`` with ``extent_level0``, at ``downsample`` px per level-0 px."""
        level = self.geometry.best_level_for_mpp(downsample * self.geometry.level0_mpp)
        level_downsample = self.geometry.level_downsamples[level]
        size_at_level = tuple(max(1, math.ceil(e / level_downsample)) for e in extent_level0)
        out_size = tuple(max(1, round(e / downsample)) for e in extent_level0)
        return _resized(self._read_rgb(origin, level, size_at_level), out_size)

    def _read_rgb(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> Image.Image:
        """RGB pixels of a region, background (outside the scan) white; retried with a fresh handle."""
        failure: Exception | None = None
        for _ in range(self.retries + 1):
            try:
                return _on_white(self._handle().read_region(location, level, size))
            except openslide.OpenSlideError as exc:
                failure = exc
                self._close()
        raise SlideReadError(
            self.geometry.path,
            f"cannot decode the region at level-0 x={location[0]}, y={location[1]} ({size[0]}x{size[1]} px "
            f"at pyramid level {level}) after {self.retries + 1} attempts: {failure}",
            "re-download the slide and check its md5, or drop it from the cohort",
        )

    def _handle(self) -> openslide.OpenSlide:
        if self._slide is None:
            self._slide = open_slide(self.geometry.path)
        return self._slide

    def _close(self) -> None:
        if self._slide is not None:
            self._slide.close()
            self._slide = None


def _on_white(rgba: Image.Image) -> Image.Image:
    """RGB with transparent pixels (outside the scanned area) made white, as a glass slide looks."""
    if rgba.getchannel("A").getextrema()[0] == OPAQUE:
        return rgba.convert("RGB")
    background = Image.new("RGB", rgba.size, (WHITE, WHITE, WHITE))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _resized(image: Image.Image, size_wh: tuple[int, int]) -> Image.Image:
    """Area-averaged resize (exact box filter for integer factors), a no-op when already that size.

    Pillow rather than OpenCV: it is single-threaded, so it is safe in forked reader processes, where
    OpenCV's and OpenMP's thread pools inherited from the parent can deadlock. ``reduce`` is Pillow's
    fast path for integer factors and gives the same box average as ``resize(BOX)``.
    """
    if image.size == size_wh:
        return image
    factor_x, factor_y = image.width / size_wh[0], image.height / size_wh[1]
    if factor_x == factor_y and factor_x.is_integer():
        return image.reduce(int(factor_x))
    return image.resize(size_wh, resample=Image.Resampling.BOX)


def _common_patch_size(table: PatchTable) -> int:
    sizes = {scale.patch_size_px for scale in table.scales}
    if len(sizes) != 1:
        raise PipelineInputError(
            table.path,
            f"scales have different patch sizes {sorted(sizes)} px",
            "use one patching.patch_size_px",
        )
    return sizes.pop()
