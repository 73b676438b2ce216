"""Snakemake script: the patients left out of training (no usable slide), as a CSV and a report page."""

from crossfusion_core.data.exclusions import write_excluded_patients
from crossfusion_core.logs import job_logging

with job_logging(snakemake.log[0]):
    write_excluded_patients(
        snakemake.input.survival,
        snakemake.input.tissue,
        snakemake.input.patches,
        snakemake.params.config_excluded,
        snakemake.output.table,
        snakemake.output.page,
    )
