"""Opening a whole-slide image and knowing its physical scale.

Everything downstream speaks in microns per pixel (mpp) and magnifications, never in pyramid levels,
because a 40x and a 20x slide store the same tissue at different level-0 sizes. The one conversion
between the two (10x = 1.0 um/px) lives with the scale table in :mod:`crossfusion_core.scales`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crossfusion_core.errors import MissingResolutionError, SlideReadError
from crossfusion_core.scales import magnification_for_mpp, mpp_for_magnification

if TYPE_CHECKING:
    import openslide

# OpenSlide is imported by the functions that open slides, so that SlideGeometry and the TIFF tile
# reader work without it (the GPU smoke test, benchmarks/bench_gpu_smoke.py, runs where it is absent).


@dataclass(frozen=True)
class SlideGeometry:
    """Physical scale and pyramid of one slide, read once from its header."""

    path: Path
    width_level0: int
    height_level0: int
    level0_mpp: float
    level0_magnification: float
    level_downsamples: tuple[float, ...]
    level_dimensions: tuple[tuple[int, int], ...]
    vendor: str

    def downsample_for_mpp(self, mpp: float) -> float:
        """How many level-0 pixels one pixel at ``mpp`` spans."""
        return mpp / self.level0_mpp

    def best_level_for_mpp(self, mpp: float) -> int:
        """The coarsest pyramid level that is still at least as fine as ``mpp``.

        Reading there and resizing down keeps full quality while decoding as few pixels as possible.
        """
        wanted = self.downsample_for_mpp(mpp)
        candidates = [i for i, d in enumerate(self.level_downsamples) if d <= wanted * 1.01]
        return max(candidates, key=lambda i: self.level_downsamples[i]) if candidates else 0


def open_slide(path: str | Path) -> openslide.OpenSlide:
    """Open ``path`` with OpenSlide, turning its terse errors into one that names the file."""
    import openslide

    path = Path(path)
    if not path.is_file():
        raise SlideReadError(path, "slide file does not exist", "check the slide folder in the config")
    try:
        return openslide.OpenSlide(str(path))
    except openslide.OpenSlideUnsupportedFormatError as exc:
        if _looks_like_tiff(path):
            raise SlideReadError(
                path,
                f"a TIFF/SVS that OpenSlide cannot read: damaged or truncated ({path.stat().st_size} bytes)",
                "download it again (its md5 in the manifest tells a complete copy)",
            ) from exc
        raise SlideReadError(path, f"not a slide format OpenSlide can read ({exc})") from exc
    except openslide.OpenSlideError as exc:
        raise SlideReadError(path, f"slide is damaged or truncated ({exc})") from exc


TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
"""First bytes of classic and BigTIFF files, little and big endian (SVS files are TIFFs)."""


def _looks_like_tiff(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) in TIFF_SIGNATURES


def level0_mpp(slide: openslide.OpenSlide, path: Path, mpp_override: float | None = None) -> float:
    """Microns per level-0 pixel: the config override, else the header's mpp, else objective power."""
    import openslide

    if mpp_override is not None:
        return float(mpp_override)
    props = slide.properties
    mpp_x = props.get(openslide.PROPERTY_NAME_MPP_X)
    if mpp_x not in (None, "") and float(mpp_x) > 0:
        return float(mpp_x)
    power = props.get(openslide.PROPERTY_NAME_OBJECTIVE_POWER)
    if power not in (None, "") and float(power) > 0:
        return mpp_for_magnification(float(power))
    raise MissingResolutionError(
        path,
        "the slide header has neither microns per pixel (openslide.mpp-x) nor objective power",
        "add the slide to `slides.mpp_override` in the config with its level-0 mpp",
    )


def slide_geometry(path: str | Path, mpp_override: float | None = None) -> SlideGeometry:
    """Read the physical scale and pyramid of the slide at ``path``."""
    import openslide

    path = Path(path)
    slide = open_slide(path)
    try:
        mpp = level0_mpp(slide, path, mpp_override)
        width, height = slide.dimensions
        return SlideGeometry(
            path=path,
            width_level0=int(width),
            height_level0=int(height),
            level0_mpp=mpp,
            level0_magnification=magnification_for_mpp(mpp),
            level_downsamples=tuple(float(d) for d in slide.level_downsamples),
            level_dimensions=tuple((int(w), int(h)) for w, h in slide.level_dimensions),
            vendor=str(slide.properties.get(openslide.PROPERTY_NAME_VENDOR, "unknown")),
        )
    finally:
        slide.close()
