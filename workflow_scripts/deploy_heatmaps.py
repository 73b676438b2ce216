"""Snakemake script: attention heatmaps of every slide of a deployment target."""

from pathlib import Path

from crossfusion_core.deploy.heatmaps import paint_deployment_heatmaps
from crossfusion_core.logs import job_logging
from crossfusion_core.plots.settings import HeatmapSettings

with job_logging(snakemake.log[0]):
    paint_deployment_heatmaps(
        list(snakemake.input.checkpoints),
        snakemake.input.predictions,
        {int(mag): Path(folder) for mag, folder in snakemake.params.feature_dirs.items()},
        snakemake.params.slide_paths,
        HeatmapSettings.from_mapping(snakemake.params.heatmaps),
        {slide: Path(snakemake.output[0]) / f"{slide}.png" for slide in snakemake.params.slide_paths},
    )
