"""Regions of a TIFF-based slide (Aperio SVS, generic pyramidal TIFF) decoded straight from its tiles.

OpenSlide paints every region through cairo, one tile at a time, and that compositing costs more than
the JPEG decode itself. The pyramid levels of SVS and generic tiled TIFF files are plain tiled TIFF
pages, so their tiles can be read with one ``pread`` each and decoded with imagecodecs' libjpeg-turbo,
as OpenSlide's own fast path does: the JPEG colour space comes from the TIFF photometric tag (Aperio
stores RGB-coded JPEG tiles that a JFIF-guessing decoder would take for YCbCr), the JPEGTables tag is
passed with every tile, and pixels beyond the image's right and bottom edge are background, as in
OpenSlide's clipped edge tiles. Everything else (other vendors' layouts, JPEG 2000 tiles with Aperio's
colour transforms, planar or non-8-bit pages) raises :class:`UnsupportedLayout` so that the caller
keeps OpenSlide, which is then the single source of truth for those files.

A tile cut by a region's edge is kept in a small per-process cache, so that neighbouring regions of
one work item (the 10x families under one 5x patch, off the tile grid on most scans) decode it once.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import imagecodecs
import numpy as np
import tifffile

from crossfusion_core.wsi.resampling import box_reduced
from crossfusion_core.wsi.slide import SlideGeometry

DIRECT_VENDORS = ("aperio", "generic-tiff")
"""OpenSlide drivers whose levels are whole tiled TIFF pages. NDPI (JPEG strips), Ventana (overlapping
tiles), Philips (sparse tiles) and Leica (several images per file) keep OpenSlide's compositing."""

JPEG_COLOUR_SPACES = {
    tifffile.PHOTOMETRIC.RGB: imagecodecs.JPEG8.CS.RGB,
    tifffile.PHOTOMETRIC.YCBCR: imagecodecs.JPEG8.CS.YCbCr,
}
"""libjpeg colour space of a JPEG tile by the page's photometric tag, the rule OpenSlide applies."""

LOSSLESS_COMPRESSIONS = (
    tifffile.COMPRESSION.NONE,
    tifffile.COMPRESSION.LZW,
    tifffile.COMPRESSION.ADOBE_DEFLATE,
    tifffile.COMPRESSION.DEFLATE,
)
"""Compressions of RGB pages that tifffile decodes exactly (and OpenSlide through libtiff)."""

JPEG_END_OF_IMAGE = b"\xff\xd9"
BACKGROUND = 255
TILE_CACHE_BYTES = 24 * 2**20
"""Per reader process. A 10x family shares edge tiles with the one beside it and the one two reads
back (below it, under the same 5x patch); on a 40x slide a family covers up to 5 x 5 tiles of 256 px
(4.7 MiB decoded), so this holds the edges of several families. Evicted tiles' buffers are decoded
into again, so a long-running reader stops asking the kernel for fresh pages."""


class UnsupportedLayout(Exception):
    """The slide's tiles cannot be decoded directly; the message says why (OpenSlide reads it instead)."""


class TileDecodeError(Exception):
    """One tile's bytes cannot be read or decoded; the message names the tile and its byte offset."""


@dataclass(frozen=True)
class TiffLevel:
    """One pyramid level as a tiled TIFF page: where it is, its size and how its tiles are coded."""

    page_index: int
    width_px: int
    height_px: int
    tile_width_px: int
    tile_height_px: int
    jpeg_colour_space: int | None
    """libjpeg colour space of its JPEG tiles; None for a losslessly compressed page."""

    @property
    def tiles_across(self) -> int:
        return math.ceil(self.width_px / self.tile_width_px)

    @property
    def tile_bytes(self) -> int:
        """Bytes of one decoded RGB tile."""
        return self.tile_width_px * self.tile_height_px * 3


def tiff_levels(geometry: SlideGeometry) -> tuple[TiffLevel, ...]:
    """The TIFF page of each of OpenSlide's levels of ``geometry``, or :class:`UnsupportedLayout`."""
    if geometry.vendor not in DIRECT_VENDORS:
        raise UnsupportedLayout(f"OpenSlide reads it with its {geometry.vendor!r} driver")
    try:
        with tifffile.TiffFile(geometry.path) as tiff:
            pages = [(index, page) for index, page in enumerate(tiff.pages) if page.is_tiled]
            return tuple(_level(pages, size) for size in geometry.level_dimensions)
    except (tifffile.TiffFileError, OSError, ValueError) as exc:
        raise UnsupportedLayout(f"tifffile cannot parse it ({exc})") from exc


def _level(pages: list[tuple[int, tifffile.TiffPage]], size: tuple[int, int]) -> TiffLevel:
    width, height = size
    matches = [(i, p) for i, p in pages if (p.imagewidth, p.imagelength) == (width, height)]
    if len(matches) != 1:
        raise UnsupportedLayout(f"{len(matches)} tiled TIFF pages are {width}x{height} px, one expected")
    index, page = matches[0]
    missing = page.databytecounts.count(0)
    if missing:
        raise UnsupportedLayout(f"page {index} does not store {missing} of its tiles (OpenSlide fills them)")
    layout = (page.bitspersample, page.samplesperpixel, page.planarconfig, page.extrasamples)
    if layout != (8, 3, tifffile.PLANARCONFIG.CONTIG, ()) or page.imagedepth != 1:
        raise UnsupportedLayout(f"page {index} is not 8-bit interleaved RGB")
    if page.compression == tifffile.COMPRESSION.JPEG and page.photometric in JPEG_COLOUR_SPACES:
        colour_space: int | None = JPEG_COLOUR_SPACES[page.photometric]
    elif page.compression in LOSSLESS_COMPRESSIONS and page.photometric == tifffile.PHOTOMETRIC.RGB:
        colour_space = None
    else:
        raise UnsupportedLayout(f"page {index} is {page.compression.name}-compressed {page.photometric.name}")
    return TiffLevel(index, width, height, page.tilewidth, page.tilelength, colour_space)


class TiffTiles:
    """Regions of one slide's pyramid composed from its decoded tiles, background outside the image.

    A region box-averaged by an integer factor is reduced tile by tile while each decoded tile is
    still in the CPU's cache, whenever the tile edges fall on the factor's grid: the same numbers as
    reducing the composed region, without composing it. A tile wholly inside the region is decoded
    into a scratch buffer and used once; one cut by the region's edge is kept in a small cache, since
    the neighbouring region needs it too. The TIFF is opened lazily in each process that reads (a
    DataLoader worker after the fork), never shared, and dropped on pickling.
    """

    def __init__(
        self, path: Path, levels: tuple[TiffLevel, ...], cache_bytes: int = TILE_CACHE_BYTES
    ) -> None:
        self.path = path
        self.levels = levels
        self.cache_bytes = cache_bytes
        self._tiff: tifffile.TiffFile | None = None
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._cached_bytes = 0
        self._scratch: dict[tuple[int, int, int], np.ndarray] = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_tiff=None, _cache=OrderedDict(), _cached_bytes=0, _scratch={})
        return state

    def region(self, level: int, box_at_level: tuple[int, int, int, int], factor: int = 1) -> np.ndarray:
        """(height, width, 3) RGB pixels of ``box_at_level`` (left, top, right, bottom) of ``level``,
        box-averaged by ``factor``, which divides the box's sides."""
        spec = self.levels[level]
        if factor > 1 and _reducible_per_tile(spec, box_at_level, factor):
            return self._reduced_per_tile(level, box_at_level, factor)
        region = self._composed(level, box_at_level)
        return region if factor == 1 else box_reduced(region, factor)

    def _composed(self, level: int, box: tuple[int, int, int, int]) -> np.ndarray:
        spec = self.levels[level]
        left, top, right, bottom = box
        shape = (bottom - top, right - left, 3)
        inside = _clipped(spec, box) == box
        out = np.empty(shape, np.uint8) if inside else np.full(shape, BACKGROUND, np.uint8)
        for index, (x0, y0, x1, y1), (dx, dy), whole in _tiles_under(spec, box):
            tile = self._tile(level, index, keep=not whole)
            out[dy : dy + y1 - y0, dx : dx + x1 - x0] = tile[y0:y1, x0:x1]
        return out

    def _reduced_per_tile(self, level: int, box: tuple[int, int, int, int], factor: int) -> np.ndarray:
        spec = self.levels[level]
        left, top, right, bottom = box
        out = np.empty(((bottom - top) // factor, (right - left) // factor, 3), np.uint8)
        for index, (x0, y0, x1, y1), (dx, dy), whole in _tiles_under(spec, box):
            tile = self._tile(level, index, keep=not whole)
            top_out, left_out = dy // factor, dx // factor
            reduced = box_reduced(tile[y0:y1, x0:x1], factor)
            out[top_out : top_out + reduced.shape[0], left_out : left_out + reduced.shape[1]] = reduced
        return out

    def close(self) -> None:
        """Drop the file handle and the cache (a retry after a failure starts from the file again)."""
        if self._tiff is not None:
            self._tiff.close()
            self._tiff = None
        self._cache.clear()
        self._cached_bytes = 0

    def _tile(self, level: int, index: int, keep: bool) -> np.ndarray:
        """The decoded RGB tile; unless ``keep``, in a scratch buffer that the next decode reuses."""
        key = (level, index)
        tile = self._cache.get(key)
        if tile is not None:
            self._cache.move_to_end(key)
            return tile
        spec = self.levels[level]
        shape = (spec.tile_height_px, spec.tile_width_px, 3)
        if not keep:
            scratch = self._scratch.get(shape)
            if scratch is None:
                scratch = self._scratch[shape] = np.empty(shape, np.uint8)
            return self._decoded(level, index, scratch)
        spare = None
        while self._cache and self._cached_bytes + spec.tile_bytes > self.cache_bytes:
            _, spare = self._cache.popitem(last=False)
            self._cached_bytes -= spare.nbytes
        tile = self._decoded(level, index, spare if spare is not None and spare.shape == shape else None)
        self._cache[key] = tile
        self._cached_bytes += tile.nbytes
        return tile

    def _decoded(self, level: int, index: int, out: np.ndarray | None) -> np.ndarray:
        spec = self.levels[level]
        page = self._page(spec)
        offset, count = page.dataoffsets[index], page.databytecounts[index]
        try:
            data = os.pread(page.parent.filehandle.fileno(), count, offset)
            if len(data) != count:
                raise ValueError(f"the file ends {count - len(data)} bytes early")
            return self._decode(page, spec, data, index, out)
        except (OSError, RuntimeError, ValueError) as exc:
            raise TileDecodeError(
                f"{_tile_name(spec, level, index)}, {count} bytes at byte {offset}: {exc}"
            ) from exc

    @staticmethod
    def _decode(
        page: tifffile.TiffPage, spec: TiffLevel, data: bytes, index: int, out: np.ndarray | None
    ) -> np.ndarray:
        shape = (spec.tile_height_px, spec.tile_width_px, 3)
        if spec.jpeg_colour_space is None:
            return page.decode(data, index)[0].reshape(shape)
        if not data.rstrip(b"\0").endswith(JPEG_END_OF_IMAGE):
            raise ValueError("JPEG data without its end-of-image marker (truncated or damaged)")
        rgb = imagecodecs.jpeg8_decode(
            data,
            tables=page.jpegtables,
            colorspace=spec.jpeg_colour_space,
            outcolorspace=imagecodecs.JPEG8.CS.RGB,
            out=out,
        )
        if rgb.shape != shape:
            raise ValueError(
                f"JPEG data of {rgb.shape[1]}x{rgb.shape[0]} px in a {shape[1]}x{shape[0]} px tile"
            )
        return rgb

    def _page(self, spec: TiffLevel) -> tifffile.TiffPage:
        if self._tiff is None:
            self._tiff = tifffile.TiffFile(self.path)
            self._tiff.pages.cache = True
        return self._tiff.pages[spec.page_index]


def _clipped(spec: TiffLevel, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    return max(left, 0), max(top, 0), min(right, spec.width_px), min(bottom, spec.height_px)


def _tiles_under(
    spec: TiffLevel, box: tuple[int, int, int, int]
) -> Iterator[tuple[int, tuple[int, int, int, int], tuple[int, int], bool]]:
    """Each tile under ``box`` within the image: its index, the part inside the box in the tile's own
    pixels, where that part goes relative to the box's top-left, and whether all of the tile is inside."""
    left, top, right, bottom = _clipped(spec, box)
    tile_w, tile_h = spec.tile_width_px, spec.tile_height_px
    for row in range(top // tile_h, math.ceil(bottom / tile_h)):
        for column in range(left // tile_w, math.ceil(right / tile_w)):
            tile_left, tile_top = column * tile_w, row * tile_h
            x0, y0 = max(left, tile_left), max(top, tile_top)
            x1, y1 = min(right, tile_left + tile_w), min(bottom, tile_top + tile_h)
            part = (x0 - tile_left, y0 - tile_top, x1 - tile_left, y1 - tile_top)
            whole = part == (0, 0, tile_w, tile_h)
            yield row * spec.tiles_across + column, part, (x0 - box[0], y0 - box[1]), whole


def _reducible_per_tile(spec: TiffLevel, box: tuple[int, int, int, int], factor: int) -> bool:
    """Whether every ``factor`` x ``factor`` cell of ``box`` lies within one tile and the image."""
    on_grid = all(v % factor == 0 for v in (*box, spec.tile_width_px, spec.tile_height_px))
    return on_grid and _clipped(spec, box) == box


def _tile_name(spec: TiffLevel, level: int, index: int) -> str:
    row, column = divmod(index, spec.tiles_across)
    return f"tile (column {column}, row {row}) of pyramid level {level}"
