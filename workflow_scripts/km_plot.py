"""Snakemake script: Kaplan-Meier of out-of-fold risk groups with the log-rank test."""

from crossfusion_core.logs import job_logging
from crossfusion_core.plots.km import km_plot
from crossfusion_core.plots.settings import KmSettings

with job_logging(snakemake.log[0]) as log:
    summary = km_plot(
        list(snakemake.input.predictions),
        list(snakemake.input.training_risks),
        KmSettings.from_mapping(snakemake.params.km),
        list(snakemake.output.figures),
        snakemake.output.summary,
    )
    log.info("log-rank p = %.4g (%s)", summary["logrank_p"], summary["rule"])
