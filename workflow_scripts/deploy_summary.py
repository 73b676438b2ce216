"""Snakemake script: the deployment's table, one row per model x backbone."""

from crossfusion_core.deploy.summary import summarize_deployment
from crossfusion_core.logs import job_logging

with job_logging(snakemake.log[0]):
    summarize_deployment(
        [tuple(run) for run in snakemake.params.runs],
        list(snakemake.input.predictions),
        list(snakemake.input.metrics),
        list(snakemake.input.km),
        tuple(snakemake.params.cohorts),
        snakemake.params.confidence_level,
        snakemake.output.csv,
        snakemake.output.markdown,
    )
