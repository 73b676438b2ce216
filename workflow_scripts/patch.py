"""Snakemake script: aligned 5x/10x/20x patch coordinates and QC grid of one slide."""

from crossfusion_core.logs import job_logging
from crossfusion_core.wsi.patching import patch_slide
from crossfusion_core.wsi.settings import PatchingSettings

with job_logging(snakemake.log[0]):
    patch_slide(
        snakemake.input.slide,
        snakemake.input.mask,
        PatchingSettings.from_mapping(snakemake.params.patching),
        snakemake.params.mpp_override,
        snakemake.output.patches,
        snakemake.output.qc,
    )
