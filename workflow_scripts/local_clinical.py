"""Snakemake script: the survival table of a local cohort, from its clinical table and slide sheet."""

from crossfusion_core.local.clinical import write_local_survival
from crossfusion_core.logs import job_logging

with job_logging(snakemake.log[0]) as log:
    n_rows = write_local_survival(
        snakemake.input.sheet, snakemake.input.clinical, snakemake.params.slide_ids, snakemake.output.survival
    )
    log.info("%s: %d slides", snakemake.output.survival, n_rows)
