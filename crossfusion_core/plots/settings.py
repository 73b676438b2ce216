"""The `km` and `heatmaps` config sections, checked once where the workflow hands them over."""

from __future__ import annotations

from typing import ClassVar, Literal, get_args

import matplotlib
from pydantic import Field, field_validator

from crossfusion_core.settings import ConfigProblem, Names, PositiveCount, Settings, each_once

KmGroups = Literal["median", "tertiles"]
KM_GROUPS = dict(zip(get_args(KmGroups), (2, 3), strict=True))
"""How many risk groups each grouping makes."""
FigureFormat = Literal["png", "pdf", "svg"]
FIGURE_FORMATS = get_args(FigureFormat)
"""What :func:`crossfusion_core.plots.figures.save_figure` writes (matplotlib's own writers)."""
DEFAULT_FIGURE_FORMATS: tuple[FigureFormat, ...] = ("png", "pdf")
HeatmapScore = Literal["attention", "attribution"]
HEATMAP_SCORES = get_args(HeatmapScore)


class KmSettings(Settings):
    """How out-of-fold risks are grouped for the Kaplan-Meier figure.

    ``groups``: median (two groups) or tertiles (three); ``confidence_level`` of the bands;
    ``formats``: the files written (png for the report, pdf or svg for papers; each goes in the report).
    """

    section: ClassVar[str] = "km"
    groups: KmGroups = "median"
    confidence_level: float = Field(0.95, gt=0, lt=1)
    formats: tuple[FigureFormat, ...] = Field(DEFAULT_FIGURE_FORMATS, min_length=1)

    @property
    def n_groups(self) -> int:
        return KM_GROUPS[self.groups]

    @field_validator("formats")
    @classmethod
    def _each_format_once(cls, formats: tuple[str, ...]) -> tuple[str, ...]:
        return each_once(formats, "format")


class HeatmapSettings(Settings):
    """What attention heatmaps are painted and how.

    ``slides``: extra slide ids to paint (each in the fold where its patient is held out); ``score``:
    ``attention`` paints the model's own patch scores (CrossFusion's attention, as the paper shows
    them), ``attribution`` each patch's signed pull on the predicted risk (``models.attribution``);
    ``chunk_size``: patches per forward chunk when scoring; ``thumbnail_mpp``: resolution of the
    background thumbnail; ``colormap``: matplotlib colormap of the percentiles; ``overlay_alpha``:
    opacity of the scores over the tissue.
    """

    section: ClassVar[str] = "heatmaps"
    slides: Names = ()
    score: HeatmapScore = "attention"
    chunk_size: PositiveCount = 1024
    thumbnail_mpp: float = Field(16.0, gt=0)
    colormap: str = "inferno"
    overlay_alpha: float = Field(0.6, gt=0, le=1)

    @field_validator("colormap")
    @classmethod
    def _known_colormap(cls, colormap: str) -> str:
        """Checked here so a misspelt colormap fails at the dry run, not after every model is trained."""
        if colormap not in matplotlib.colormaps:
            raise ConfigProblem(f"{colormap!r} is not a matplotlib colormap", "use e.g. inferno or viridis")
        return colormap
