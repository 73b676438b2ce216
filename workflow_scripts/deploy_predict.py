"""Snakemake script: the deployment target's patients scored by the trained models."""

from pathlib import Path

from crossfusion_core.deploy.predict import write_deployment_predictions
from crossfusion_core.logs import job_logging

with job_logging(snakemake.log[0]):
    write_deployment_predictions(
        list(snakemake.input.checkpoints),
        snakemake.input.survival[0] if snakemake.input.survival else None,
        snakemake.params.slide_patients,
        {int(mag): Path(folder) for mag, folder in snakemake.params.feature_dirs.items()},
        snakemake.params.weights,
        snakemake.output[0],
        threads=snakemake.threads,
    )
