"""Snakemake script: multi-scale attention heatmaps of one fold's held-out model."""

from pathlib import Path

from crossfusion_core.logs import job_logging
from crossfusion_core.plots.heatmap import paint_heatmaps
from crossfusion_core.plots.settings import HeatmapSettings

with job_logging(snakemake.log[0]):
    paint_heatmaps(
        snakemake.input.checkpoint,
        snakemake.input.predictions,
        {int(mag): Path(folder) for mag, folder in snakemake.params.feature_dirs.items()},
        {slide: Path(path) for slide, path in snakemake.params.slide_paths.items()},
        HeatmapSettings.from_mapping(snakemake.params.heatmaps),
        Path(snakemake.output.highest).parent,
    )
