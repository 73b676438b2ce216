"""Snakemake script: one diagnostic slide of a TCGA cohort from the GDC, md5-checked.

The manifest row comes as params (it alone reruns the job); how the GDC is reached comes from the run's
config, which Snakemake does not compare for reruns (see crossfusion_core/tcga/fetch.py).
"""

from crossfusion_core.logs import job_logging
from crossfusion_core.tcga.dataset import TcgaDataset
from crossfusion_core.tcga.fetch import fetch_cohort_slide
from crossfusion_core.tcga.manifest import ManifestFile

with job_logging(snakemake.log[0]) as log:
    result = fetch_cohort_slide(
        TcgaDataset.from_mapping(snakemake.config["dataset"]),
        ManifestFile(**snakemake.params.slide),
        snakemake.params.failures_dir,
    )
    log.info("%s: %s (%d bytes fetched)", result.path, result.action, result.bytes_fetched)
