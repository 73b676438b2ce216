"""Reading the pixels of multi-scale patches from a slide, in parallel, touching each region once.

The unit of work is one coarsest-scale patch and all its descendants (e.g. one 5x patch, its four 10x
and sixteen 20x patches). With the ``shared`` strategy the union of their footprints is read once at
the finest scale's resolution (best pyramid level, then resized) and every patch is cut from that
array, coarser ones by area-averaging; ``per_patch`` reads each patch on its own at its own best level,
the way CLAM does. ``benchmarks/bench_feature_io.py`` measures both; the config default follows it.

Items are produced in DataLoader worker processes, each with its own OpenSlide handle. A region that
cannot be decoded comes back as a :class:`ReadFailure` value rather than being raised in the worker,
because the DataLoader would re-raise it as a bare RuntimeError and lose the slide and location.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openslide
import torch
from PIL import Image
from torch.utils.data import Dataset

from crossfusion_core.errors import SlideReadError
from crossfusion_core.features.patch_table import PatchTable
from crossfusion_core.wsi.slide import SlideGeometry, open_slide

WHITE = 255
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


def work_groups(table: PatchTable) -> list[tuple[np.ndarray, np.ndarray]]:
    """(scale positions, rows) of the patches read together: one coarsest patch and its descendants.

    Without parent links (or with only one scale) patches fall into fixed-size chunks per scale.
    """
    if len(table.scales) > 1 and all(s.parent_index is not None for s in table.scales[1:]):
        return _family_groups(table)
    groups = []
    for position, scale in enumerate(table.scales):
        for start in range(0, scale.count, PATCHES_PER_CHUNK):
            rows = np.arange(start, min(start + PATCHES_PER_CHUNK, scale.count))
            groups.append((np.full(len(rows), position), rows))
    return groups


def _family_groups(table: PatchTable) -> list[tuple[np.ndarray, np.ndarray]]:
    root_of = [np.arange(table.scales[0].count)]
    for scale in table.scales[1:]:
        root_of.append(root_of[-1][scale.parent_index])
    positions = np.concatenate([np.full(len(r), p) for p, r in enumerate(root_of)])
    rows = np.concatenate([np.arange(len(r)) for r in root_of])
    roots = np.concatenate(root_of)
    order = np.argsort(roots, kind="stable")
    bounds = np.searchsorted(roots[order], np.arange(table.scales[0].count + 1))
    return [
        (positions[order[a:b]], rows[order[a:b]]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]


class PatchPixels(Dataset):
    """Map-style dataset: item ``i`` is the :class:`PatchBlock` of work group ``i``."""

    def __init__(
        self, geometry: SlideGeometry, table: PatchTable, strategy: str, retries: int = 2
    ) -> None:
        self.geometry = geometry
        self.table = table
        self.strategy = strategy
        self.retries = retries
        self.groups = work_groups(table)
        self.patch_size_px = _common_patch_size(table)
        self._slide: openslide.OpenSlide | None = None

    def __len__(self) -> int:
        return len(self.groups)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_slide"] = None
        return state

    def __getitem__(self, index: int) -> PatchBlock | ReadFailure:
        positions, rows = self.groups[index]
        try:
            if self.strategy == "shared":
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
        pixels = self._read_rgb((x, y), level, (side_at_level, side_at_level))
        return _resized(pixels, (self.patch_size_px, self.patch_size_px))

    def _read_shared(self, positions: np.ndarray, rows: np.ndarray) -> np.ndarray:
        finest = self.table.scales[int(positions.max())]
        downsample = finest.patch_size_level0 / finest.patch_size_px
        corners = np.stack([self.table.scales[p].coords_level0[r] for p, r in zip(positions, rows, strict=True)])
        sizes = np.array([self.table.scales[p].patch_size_level0 for p in positions])
        origin = corners.min(axis=0)
        extent_level0 = (corners + sizes[:, None]).max(axis=0) - origin
        region = self._read_region_at(tuple(int(v) for v in origin), extent_level0, downsample)
        patches = np.empty((len(rows), self.patch_size_px, self.patch_size_px, 3), np.uint8)
        for i, (corner, size_level0) in enumerate(zip(corners, sizes, strict=True)):
            left, top = np.rint((corner - origin) / downsample).astype(int)
            side = round(size_level0 / downsample)
            crop = region[top : top + side, left : left + side]
            patches[i] = _resized(crop, (self.patch_size_px, self.patch_size_px))
        return patches

    def _read_region_at(self, origin: tuple[int, int], extent_level0: np.ndarray, downsample: float) -> np.ndarray:
        """The level-0 box at ``origin`` with ``extent_level0``, at ``downsample`` px per level-0 px."""
        level = self.geometry.best_level_for_mpp(downsample * self.geometry.level0_mpp)
        level_downsample = self.geometry.level_downsamples[level]
        size_at_level = tuple(max(1, math.ceil(e / level_downsample)) for e in extent_level0)
        out_size = tuple(max(1, round(e / downsample)) for e in extent_level0)
        return _resized(self._read_rgb(origin, level, size_at_level), out_size)

    def _read_rgb(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> np.ndarray:
        """RGB pixels of a region, background (outside the scan) white; retried with a fresh handle."""
        failure: Exception | None = None
        for _ in range(self.retries + 1):
            try:
                rgba = np.asarray(self._handle().read_region(location, level, size))
            except openslide.OpenSlideError as exc:
                failure = exc
                self._close()
                continue
            rgb = rgba[..., :3].copy()
            rgb[rgba[..., 3] == 0] = WHITE
            return rgb
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


def _resized(pixels: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Area-averaged resize (exact box filter for integer factors), a no-op when already that size.

    Pillow rather than OpenCV: it is single-threaded, so it is safe in forked reader processes, where
    OpenCV's and OpenMP's thread pools inherited from the parent can deadlock.
    """
    if pixels.shape[1] == size_wh[0] and pixels.shape[0] == size_wh[1]:
        return np.ascontiguousarray(pixels)
    image = Image.fromarray(np.ascontiguousarray(pixels))
    return np.asarray(image.resize(size_wh, resample=Image.Resampling.BOX))


def _common_patch_size(table: PatchTable) -> int:
    sizes = {scale.patch_size_px for scale in table.scales}
    if len(sizes) != 1:
        from crossfusion_core.errors import PipelineInputError

        raise PipelineInputError(
            table.path, f"scales have different patch sizes {sorted(sizes)} px", "use one patching.patch_size_px"
        )
    return sizes.pop()
