"""Snakemake script: one model on one backbone, trained on every patient (the final model)."""

from pathlib import Path

from crossfusion_core.deploy.final_model import train_final_model
from crossfusion_core.logs import job_logging
from crossfusion_core.models.registry import model_options
from crossfusion_core.training.settings import FoldTrainingSettings

with job_logging(snakemake.log[0]):
    train_final_model(
        FoldTrainingSettings.model_validate(snakemake.params.training),
        snakemake.wildcards.model,
        model_options(snakemake.wildcards.model, snakemake.params.model_options),
        Path(snakemake.input.survival),
        Path(snakemake.input.excluded),
        {int(mag): Path(folder) for mag, folder in snakemake.params.feature_dirs.items()},
        Path(snakemake.output.checkpoint).parent,
        backbone=snakemake.wildcards.backbone,
        threads=snakemake.threads,
    )
