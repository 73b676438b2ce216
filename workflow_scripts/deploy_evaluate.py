"""Snakemake script: Harrell's and Uno's C of a deployment, with bootstrap intervals."""

from crossfusion_core.deploy.scoring import deployment_metrics
from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.logs import job_logging

with job_logging(snakemake.log[0]) as log:
    metrics = deployment_metrics(
        snakemake.input.predictions,
        EvaluationSettings.from_mapping(snakemake.params.evaluation),
        snakemake.output[0],
    )
    log.info("Harrell's C %s (%s)", metrics["harrell_cindex"], metrics["weights"])
