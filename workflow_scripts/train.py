"""Snakemake script: one model, one backbone, one fold."""

from pathlib import Path

from crossfusion_core.logs import job_logging
from crossfusion_core.training.fold import train_fold
from crossfusion_core.training.settings import TrainingSettings

with job_logging(snakemake.log[0]):
    params = snakemake.params.training
    train_fold(
        TrainingSettings.from_mapping({k: v for k, v in params.items() if k != "model_options"}),
        snakemake.wildcards.model,
        params["model_options"],
        Path(snakemake.input.survival),
        Path(snakemake.input.split),
        {int(mag): Path(folder) for mag, folder in snakemake.params.feature_dirs.items()},
        Path(snakemake.output.checkpoint).parent,
        fold=int(snakemake.wildcards.fold),
        threads=snakemake.threads,
    )
