"""Snakemake script: one slide's CLAM or TRIDENT features, checked and laid out as ours."""

from crossfusion_core.features.backbones import BACKBONES
from crossfusion_core.features.external import import_external_features
from crossfusion_core.features.settings import ExternalFeatures
from crossfusion_core.logs import job_logging
from crossfusion_core.scales import SCALES

with job_logging(snakemake.log[0]):
    backbone = BACKBONES.get(snakemake.wildcards.backbone)
    import_external_features(
        snakemake.wildcards.slide,
        ExternalFeatures.from_mapping(snakemake.params.external),
        snakemake.input.patches,
        backbone.dim if backbone else None,
        {scale.magnification: snakemake.output[scale.group] for scale in SCALES},
    )
