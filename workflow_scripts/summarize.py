"""Snakemake script: the comparison table of every model x backbone."""

from crossfusion_core.evaluation.summary import summarize
from crossfusion_core.logs import job_logging

with job_logging(snakemake.log[0]):
    runs = [tuple(run) for run in snakemake.params.runs]
    summarize(
        dict(zip(runs, snakemake.input.metrics, strict=True)),
        snakemake.params.protocol,
        snakemake.output.csv,
        snakemake.output.markdown,
    )
