"""Snakemake script: the survival table of a TCGA cohort (given table and/or GDC cases endpoint)."""

from crossfusion_core.logs import job_logging
from crossfusion_core.tcga.clinical import survival_table
from crossfusion_core.tcga.source import TcgaSource

with job_logging(snakemake.log[0]) as log:
    report = survival_table(
        TcgaSource.from_mapping(snakemake.params.source),
        snakemake.params.slide_ids,
        snakemake.output.survival,
    )
    log.info("%s", report.summary())
