"""Snakemake script: survival table, manifest and true risk of the synthetic cohort."""

from pathlib import Path

from crossfusion_core.logs import job_logging
from crossfusion_core.synthetic.clinical import write_synthetic_clinical
from crossfusion_core.synthetic.settings import SyntheticSettings

with job_logging(snakemake.log[0]):
    write_synthetic_clinical(
        SyntheticSettings.from_mapping(snakemake.params.synthetic),
        dict(zip(snakemake.params.slide_ids, map(Path, snakemake.input.slides), strict=True)),
        snakemake.output.survival,
        snakemake.output.true_risk,
        snakemake.output.manifest,
    )
