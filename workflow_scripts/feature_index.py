"""Snakemake script: bag sizes of every slide's features for one backbone."""

from crossfusion_core.features.index import write_feature_index
from crossfusion_core.logs import job_logging
from crossfusion_core.scales import SCALES

with job_logging(snakemake.log[0]):
    write_feature_index(
        {scale.magnification: snakemake.input[scale.group] for scale in SCALES}, snakemake.output[0]
    )
