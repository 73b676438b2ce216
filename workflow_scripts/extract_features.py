"""Snakemake script: 5x, 10x and 20x patch features of one slide with one backbone."""

from crossfusion_core.features.extract import extract_slide_features
from crossfusion_core.features.settings import FeatureSettings
from crossfusion_core.logs import job_logging

with job_logging(snakemake.log[0]):
    speed = snakemake.resources
    extract_slide_features(
        snakemake.input.slide,
        snakemake.input.patches,
        snakemake.wildcards.backbone,
        FeatureSettings.from_mapping(
            {
                **snakemake.params.extraction,
                "batch_size": speed.batch_size,
                "num_workers": speed.num_workers,
                "device": speed.device,
            }
        ),
        snakemake.params.mpp_override,
        {mag: snakemake.output[f"x{mag}"] for mag in (5, 10, 20)},
        threads=snakemake.threads,
    )
