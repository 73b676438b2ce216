"""Snakemake script: the heatmap of one slide of `heatmaps.slides`, by the fold model that held it out."""

from pathlib import Path

from crossfusion_core.logs import job_logging
from crossfusion_core.plots.heatmap import paint_held_out_slide
from crossfusion_core.plots.settings import HeatmapSettings

with job_logging(snakemake.log[0]):
    paint_held_out_slide(
        list(zip(snakemake.input.checkpoints, snakemake.input.predictions, strict=True)),
        snakemake.wildcards.slide,
        Path(snakemake.params.slide_path),
        {int(mag): Path(folder) for mag, folder in snakemake.params.feature_dirs.items()},
        HeatmapSettings.from_mapping(snakemake.params.heatmaps),
        Path(snakemake.output[0]),
    )
