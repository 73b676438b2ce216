"""Snakemake script: a batch of the built-in synthetic cohort's slides and their planted-risk maps."""

from crossfusion_core.logs import job_logging
from crossfusion_core.synthetic.batch import write_synthetic_batch
from crossfusion_core.synthetic.settings import SyntheticSettings

with job_logging(snakemake.log[0]):
    write_synthetic_batch(
        SyntheticSettings.from_mapping(snakemake.params.synthetic),
        snakemake.params.slides,
        snakemake.output[0],
        snakemake.params.files,
    )
