"""Snakemake script: tissue mask and QC thumbnail of one slide."""

from crossfusion_core.logs import job_logging
from crossfusion_core.wsi.segmentation import segment_slide
from crossfusion_core.wsi.settings import SegmentationSettings

with job_logging(snakemake.log[0]):
    segment_slide(
        snakemake.input.slide,
        SegmentationSettings.from_mapping(snakemake.params.segmentation),
        snakemake.params.mpp_override,
        snakemake.output.mask,
        snakemake.output.qc,
    )
