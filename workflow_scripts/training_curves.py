"""Snakemake script: loss and validation C-index per epoch across the folds of one run."""

from crossfusion_core.logs import job_logging
from crossfusion_core.plots.training_curves import training_curves_plot

with job_logging(snakemake.log[0]):
    training_curves_plot(
        list(snakemake.input.epochs),
        f"{snakemake.wildcards.model} on {snakemake.wildcards.backbone}",
        snakemake.output[0],
    )
