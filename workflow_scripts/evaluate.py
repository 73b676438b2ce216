"""Snakemake script: metrics of one model x backbone over its folds."""

from crossfusion_core.evaluation.metrics import evaluate_predictions
from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.logs import job_logging

with job_logging(snakemake.log[0]):
    evaluate_predictions(
        list(snakemake.input.predictions),
        EvaluationSettings.from_mapping(snakemake.params.evaluation),
        snakemake.input.true_risk[0] if snakemake.input.true_risk else None,
        snakemake.output.metrics,
        snakemake.output.summary,
        checkpoints=list(snakemake.input.checkpoints),
    )
