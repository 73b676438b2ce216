"""Where a patch reader's pixels come from: OpenSlide's compositing, or the slide's own TIFF tiles.

Both sources answer one question: the pixels of a box given by its level-0 corner, a pyramid level and
a size at that level, area-averaged to an output size, as a (height, width, 3) uint8 RGB array, white
where the box leaves the scanned area (a glass slide's background).
Both keep their file handles per process, opened on first use, because reads happen in DataLoader
worker processes; and both retry an undecodable region with fresh handles before giving up with a
:class:`SlideReadError` that names the slide and the location, since a network file system's read
error is often transient while a damaged file fails every time.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PIL import Image

from crossfusion_core.errors import SlideReadError
from crossfusion_core.wsi.resampling import area_resized, integer_factor
from crossfusion_core.wsi.slide import SlideGeometry, open_slide
from crossfusion_core.wsi.tiff_tiles import TiffTiles, TileDecodeError, UnsupportedLayout, tiff_levels

if TYPE_CHECKING:
    import openslide

LOGGER = logging.getLogger(__name__)
WHITE = 255
OPAQUE = 255


class RegionReader(Protocol):
    """Pixels of slide regions, background white."""

    def image(
        self,
        location_level0: tuple[int, int],
        level: int,
        size_at_level: tuple[int, int],
        out_size: tuple[int, int],
    ) -> np.ndarray:
        """The ``size_at_level`` (width, height) box of ``level`` whose top-left is ``location_level0``,
        area-averaged to ``out_size``."""
        ...


def region_reader(geometry: SlideGeometry, tiles: bool, retries: int) -> RegionReader:
    """The slide's own tiles when ``tiles`` and its layout allows it (SVS, generic TIFF), else OpenSlide."""
    if tiles:
        try:
            return TiffTileRegions(geometry, retries)
        except UnsupportedLayout as reason:
            LOGGER.info("%s: read through OpenSlide: %s", geometry.path, reason)
    return OpenSlideRegions(geometry, retries)


class OpenSlideRegions:
    """Regions read with OpenSlide's ``read_region`` (any format it knows).

    OpenSlide is imported where it is used, so that slides the tile reader handles are read without it
    (the GPU smoke test runs where only PyTorch's stack is installed).
    """

    def __init__(self, geometry: SlideGeometry, retries: int) -> None:
        self.geometry = geometry
        self.retries = retries
        self._slide: openslide.OpenSlide | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_slide"] = None
        return state

    def image(
        self,
        location_level0: tuple[int, int],
        level: int,
        size_at_level: tuple[int, int],
        out_size: tuple[int, int],
    ) -> np.ndarray:
        import openslide

        failure: Exception | None = None
        for _ in range(self.retries + 1):
            try:
                rgba = self._handle().read_region(location_level0, level, size_at_level)
                return area_resized(np.asarray(_on_white(rgba)), out_size)
            except openslide.OpenSlideError as exc:
                failure = exc
                self._close()
        raise _undecodable_region(
            self.geometry.path, location_level0, level, size_at_level, self.retries, failure
        )

    def _handle(self) -> openslide.OpenSlide:
        if self._slide is None:
            self._slide = open_slide(self.geometry.path)
        return self._slide

    def _close(self) -> None:
        if self._slide is not None:
            self._slide.close()
            self._slide = None


class TiffTileRegions:
    """Regions composed from the slide's decoded TIFF tiles (see :mod:`crossfusion_core.wsi.tiff_tiles`).

    A level-0 corner maps to the nearest pixel of a coarser level. Where the level's downsample divides
    the corner (exact 4x pyramids) that is OpenSlide's pixel; elsewhere OpenSlide interpolates between
    pixels, and the two differ by under half a pixel of that level.
    """

    def __init__(self, geometry: SlideGeometry, retries: int) -> None:
        self.geometry = geometry
        self.retries = retries
        self.tiles = TiffTiles(geometry.path, tiff_levels(geometry))

    def image(
        self,
        location_level0: tuple[int, int],
        level: int,
        size_at_level: tuple[int, int],
        out_size: tuple[int, int],
    ) -> np.ndarray:
        downsample = self.geometry.level_downsamples[level]
        left, top = (round(v / downsample) for v in location_level0)
        box = (left, top, left + size_at_level[0], top + size_at_level[1])
        factor = integer_factor(size_at_level, out_size)
        failure: Exception | None = None
        for _ in range(self.retries + 1):
            try:
                if factor is not None:
                    return self.tiles.region(level, box, factor)
                return area_resized(self.tiles.region(level, box), out_size)
            except TileDecodeError as exc:
                failure = exc
                self.tiles.close()
        raise _undecodable_region(
            self.geometry.path, location_level0, level, size_at_level, self.retries, failure
        )


def _undecodable_region(
    path: Path,
    location_level0: tuple[int, int],
    level: int,
    size_at_level: tuple[int, int],
    retries: int,
    failure: Exception | None,
) -> SlideReadError:
    x, y = location_level0
    width, height = size_at_level
    return SlideReadError(
        path,
        f"cannot decode the region at level-0 x={x}, y={y} ({width}x{height} px at pyramid level {level}) "
        f"after {retries + 1} attempts: {failure}",
        "re-download the slide and check its md5, or drop it from the cohort",
    )


def _on_white(rgba: Image.Image) -> Image.Image:
    """RGB with transparent pixels (outside the scanned area) made white, as a glass slide looks."""
    if rgba.getchannel("A").getextrema()[0] == OPAQUE:
        return rgba.convert("RGB")
    background = Image.new("RGB", rgba.size, (WHITE, WHITE, WHITE))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background
