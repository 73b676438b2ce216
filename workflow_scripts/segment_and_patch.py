"""Snakemake script: tissue masks, patch coordinates and QC figures of a batch of slides."""

from pathlib import Path

from crossfusion_core.logs import job_logging
from crossfusion_core.wsi.patching import segment_and_patch_batch
from crossfusion_core.wsi.settings import PatchingSettings, SegmentationSettings

with job_logging(snakemake.log[0]):
    segment_and_patch_batch(
        dict(zip(snakemake.params.slides, map(Path, snakemake.input.slides), strict=True)),
        snakemake.params.mpp_overrides,
        SegmentationSettings.from_mapping(snakemake.params.segmentation),
        PatchingSettings.from_mapping(snakemake.params.patching),
        snakemake.output[0],
        snakemake.params.files,
    )
