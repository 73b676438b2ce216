"""Snakemake script: the survival table of a TCGA cohort (given table and/or GDC cases endpoint).

The whole ``dataset`` section comes from the run's config: the params hold only what decides the table,
so that a change of how the GDC is reached reruns nothing (see crossfusion_core/tcga/fetch.py).
"""

from crossfusion_core.logs import job_logging
from crossfusion_core.tcga.clinical import survival_table
from crossfusion_core.tcga.dataset import TcgaDataset

with job_logging(snakemake.log[0]) as log:
    report = survival_table(
        TcgaDataset.from_mapping(snakemake.config["dataset"]),
        snakemake.params.slide_ids,
        snakemake.output.survival,
    )
    log.info("%s", report.summary())
