"""Snakemake script: one model, one backbone, one fold."""

from pathlib import Path

from crossfusion_core.logs import job_logging
from crossfusion_core.models.registry import model_options
from crossfusion_core.training.fold import train_fold
from crossfusion_core.training.settings import FoldTrainingSettings

with job_logging(snakemake.log[0]):
    train_fold(
        FoldTrainingSettings.model_validate(snakemake.params.training),
        snakemake.wildcards.model,
        model_options(snakemake.wildcards.model, snakemake.params.model_options),
        Path(snakemake.input.survival),
        Path(snakemake.input.split),
        {int(mag): Path(folder) for mag, folder in snakemake.params.feature_dirs.items()},
        Path(snakemake.output.checkpoint).parent,
        fold=int(snakemake.wildcards.fold),
        threads=snakemake.threads,
        backbone=snakemake.wildcards.backbone,
    )
