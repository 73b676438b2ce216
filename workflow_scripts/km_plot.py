"""Snakemake script: Kaplan-Meier of pooled out-of-fold risk groups with the log-rank test."""

from crossfusion_core.logs import job_logging
from crossfusion_core.plots.km import km_plot
from crossfusion_core.plots.settings import KmSettings

with job_logging(snakemake.log[0]) as log:
    p_value = km_plot(
        list(snakemake.input.predictions),
        KmSettings.from_mapping(snakemake.params.km),
        list(snakemake.output),
    )
    log.info("log-rank p = %.4g", p_value)
