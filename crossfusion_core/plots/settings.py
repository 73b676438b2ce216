"""The `km` and `heatmaps` config sections, checked once where the workflow hands them over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import matplotlib

from crossfusion_core.settings import require, section_values

KM_GROUPS = {"median": 2, "tertiles": 3}
FIGURE_FORMATS = ("png", "pdf", "svg")
"""What :func:`crossfusion_core.plots.figures.save_figure` writes (matplotlib's own writers)."""
DEFAULT_FIGURE_FORMATS = ("png", "pdf")


@dataclass(frozen=True)
class KmSettings:
    """How out-of-fold risks are grouped for the Kaplan-Meier figure.

    ``groups``: median (two groups) or tertiles (three); ``confidence_level`` of the bands;
    ``formats``: the files written (png for the report, pdf or svg for papers; each goes in the report).
    """

    groups: str = "median"
    confidence_level: float = 0.95
    formats: tuple[str, ...] = DEFAULT_FIGURE_FORMATS

    @property
    def n_groups(self) -> int:
        return KM_GROUPS[self.groups]

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> KmSettings:
        settings = cls(**section_values(mapping, cls, "km"))
        require(settings.groups in KM_GROUPS, "km", f"groups={settings.groups!r}", f"use {list(KM_GROUPS)}")
        require(
            0 < settings.confidence_level < 1,
            "km",
            f"confidence_level={settings.confidence_level}",
            "use 0.95",
        )
        require(
            bool(settings.formats) and set(settings.formats) <= set(FIGURE_FORMATS),
            "km",
            f"formats={list(settings.formats)}",
            f"use a subset of {list(FIGURE_FORMATS)}",
        )
        return settings


HEATMAP_SCORES = ("attention", "attribution")


@dataclass(frozen=True)
class HeatmapSettings:
    """What attention heatmaps are painted and how.

    ``slides``: extra slide ids to paint (each in the fold where its patient is held out); ``score``:
    ``attention`` paints the model's own patch scores (CrossFusion's attention, as the paper shows
    them), ``attribution`` each patch's signed pull on the predicted risk (``models.attribution``);
    ``chunk_size``: patches per forward chunk when scoring; ``thumbnail_mpp``: resolution of the
    background thumbnail; ``colormap``: matplotlib colormap of the percentiles; ``overlay_alpha``:
    opacity of the scores over the tissue.
    """

    slides: tuple[str, ...] = ()
    score: str = "attention"
    chunk_size: int = 1024
    thumbnail_mpp: float = 16.0
    colormap: str = "inferno"
    overlay_alpha: float = 0.6

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> HeatmapSettings:
        mapping = dict(mapping or {})
        mapping["slides"] = mapping.get("slides") or ()  # `slides:` with nothing under it reads as None
        values = section_values(mapping, cls, "heatmaps")
        settings = cls(**values)
        require(
            settings.colormap in matplotlib.colormaps,
            "heatmaps",
            f"colormap={settings.colormap!r} is not a matplotlib colormap",
            "use e.g. inferno or viridis",
        )
        require(settings.chunk_size > 0, "heatmaps", f"chunk_size={settings.chunk_size}", "use 1024")
        require(
            settings.score in HEATMAP_SCORES,
            "heatmaps",
            f"score={settings.score!r} is not one of {HEATMAP_SCORES}",
            "use attention (what the model reads) or attribution (where its risk comes from)",
        )
        require(settings.thumbnail_mpp > 0, "heatmaps", f"thumbnail_mpp={settings.thumbnail_mpp}", "use 16")
        require(
            0 < settings.overlay_alpha <= 1, "heatmaps", f"overlay_alpha={settings.overlay_alpha}", "use 0.6"
        )
        return settings
