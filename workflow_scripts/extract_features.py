"""Snakemake script: 5x, 10x and 20x patch features of a batch of slides with one backbone."""

from pathlib import Path

from crossfusion_core.features.extract import SlideToFeaturise, extract_batch_features
from crossfusion_core.features.settings import RESOURCE_KEYS, ExtractionResources, FeatureSettings
from crossfusion_core.logs import job_logging

with job_logging(snakemake.log[0]):
    extract_batch_features(
        {
            slide: SlideToFeaturise(Path(path), Path(patches), snakemake.params.mpp_overrides[slide])
            for slide, path, patches in zip(
                snakemake.params.slides, snakemake.input.slides, snakemake.input.patches, strict=True
            )
        },
        snakemake.wildcards.backbone,
        FeatureSettings.from_mapping(snakemake.params.extraction),
        snakemake.output[0],
        snakemake.params.files,
        threads=snakemake.threads,
        resources=ExtractionResources.from_mapping(
            {key: getattr(snakemake.resources, key) for key in RESOURCE_KEYS}
        ),
    )
