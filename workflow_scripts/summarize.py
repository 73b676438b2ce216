"""Snakemake script: the comparison table of every model x backbone, with paired differences."""

from pathlib import Path

from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.evaluation.summary import SummaryFiles, summarize
from crossfusion_core.logs import job_logging

with job_logging(snakemake.log[0]):
    runs = [tuple(run) for run in snakemake.params.runs]
    folds_per_run = len(snakemake.input.predictions) // len(runs)
    predictions = list(snakemake.input.predictions)
    summarize(
        dict(zip(runs, snakemake.input.metrics, strict=True)),
        {run: predictions[i * folds_per_run : (i + 1) * folds_per_run] for i, run in enumerate(runs)},
        snakemake.params.protocol,
        EvaluationSettings.from_mapping(snakemake.params.evaluation),
        SummaryFiles(
            Path(snakemake.output.csv), Path(snakemake.output.markdown), Path(snakemake.output.differences)
        ),
    )
