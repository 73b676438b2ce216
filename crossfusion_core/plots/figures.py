"""Saving figures: one matplotlib figure, every requested format, each written atomically.

Figures are built on ``matplotlib.figure.Figure`` directly (no pyplot state), so plotting works in
Snakemake jobs without a display and figures never leak between calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.io import atomic_path
from crossfusion_core.plots.settings import FIGURE_FORMATS


def save_figure(figure: Figure, out_paths: Sequence[str | Path], dpi: int = 150) -> None:
    """Write ``figure`` to each path in the format its suffix names (png, pdf or svg)."""
    for path in map(Path, out_paths):
        file_format = path.suffix.lstrip(".").lower()
        if file_format not in FIGURE_FORMATS:
            raise PipelineInputError(
                path, f"cannot write a figure as {file_format!r}", f"use {FIGURE_FORMATS}"
            )
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=file_format, dpi=dpi, bbox_inches="tight")
