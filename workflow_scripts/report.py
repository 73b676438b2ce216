"""Snakemake script: Snakemake's own HTML report over the inputs of this rule."""

from crossfusion_core.logs import job_logging
from crossfusion_core.report import write_snakemake_report

with job_logging(snakemake.log[0]):
    write_snakemake_report(
        snakemake.params.snakefile, snakemake.config, list(snakemake.input), snakemake.output[0]
    )
