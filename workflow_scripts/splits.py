"""Snakemake script: patient-level train/held-out splits of every fold."""

from crossfusion_core.data.splits import write_fold_splits
from crossfusion_core.logs import job_logging

with job_logging(snakemake.log[0]):
    write_fold_splits(
        snakemake.input.survival,
        snakemake.params.n_folds,
        snakemake.params.seed,
        list(snakemake.output),
        splits_dir=snakemake.params.splits_dir,
        n_bins=snakemake.params.n_bins,
        excluded_csv=snakemake.input.excluded,
        repeats=snakemake.params.repeats,
    )
