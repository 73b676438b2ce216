"""Snakemake script: one slide of the built-in synthetic cohort and its planted-risk map."""

from crossfusion_core.logs import job_logging
from crossfusion_core.synthetic.settings import SyntheticSettings
from crossfusion_core.synthetic.slides import write_synthetic_slide

with job_logging(snakemake.log[0]):
    write_synthetic_slide(
        SyntheticSettings.from_mapping(snakemake.params.synthetic),
        snakemake.wildcards.slide,
        snakemake.output.slide,
        snakemake.output.truth,
    )
