"""Snakemake script: Kaplan-Meier of a deployment's risk groups, cut at the trained cohort's risks."""

from crossfusion_core.deploy.scoring import deployment_km
from crossfusion_core.logs import job_logging
from crossfusion_core.plots.settings import KmSettings

with job_logging(snakemake.log[0]) as log:
    summary = deployment_km(
        snakemake.input.predictions,
        list(snakemake.input.reference),
        KmSettings.from_mapping(snakemake.params.km),
        tuple(snakemake.params.cohorts),
        list(snakemake.output.figures),
        snakemake.output.summary,
    )
    log.info("log-rank p = %.4g (%s)", summary["logrank_p"], summary["rule"])
