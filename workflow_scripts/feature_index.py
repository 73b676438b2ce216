"""Snakemake script: bag sizes of every slide's features for one backbone."""

from crossfusion_core.features.index import write_feature_index
from crossfusion_core.logs import job_logging

with job_logging(snakemake.log[0]):
    write_feature_index({mag: snakemake.input[f"x{mag}"] for mag in (5, 10, 20)}, snakemake.output[0])
