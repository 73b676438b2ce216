"""One cohort slide from the GDC as the workflow asks for it: by its manifest row, failures recorded.

Snakemake reruns a job when its params change, and deletes the job's outputs first. So the download
rule's params carry the slide's manifest row alone (id, file name, md5, size: a new row is a new file)
and nothing of how the GDC is reached (``gdc_api``, ``token_file``, ``retries``, ``backoff_s``,
``timeout_s``) nor ``fill_missing_from_gdc``: the bytes are md5-checked against the row, so those
settings never change a slide. They reach the job through the run's config (the whole ``dataset``
section), which Snakemake gives every job but never compares when it decides what to rerun. Resources
would also escape the comparison, but they are the scheduler's: passed on to cluster submissions,
overridden by profiles, and a null token file or a URL is no resource.

Every failure is written to the failures folder before the job fails, so a ``--keep-going`` run over
a thousand slides ends with one list of what is missing and why.
"""

from __future__ import annotations

from pathlib import Path

from crossfusion_core.tcga.dataset import TcgaDataset
from crossfusion_core.tcga.download import DownloadResult, download_slide
from crossfusion_core.tcga.failures import clear_failure, record_failure
from crossfusion_core.tcga.manifest import ManifestFile


def fetch_cohort_slide(dataset: TcgaDataset, item: ManifestFile, failures_dir: str | Path) -> DownloadResult:
    """Download (or find again) the manifest file ``item`` in ``dataset.data_dir``."""
    try:
        result = download_slide(
            item.file_id,
            item.filename,
            item.md5,
            item.size_bytes,
            dataset.data_dir,
            dataset.gdc_api,
            token_file=dataset.token_file,
            retries=dataset.retries,
            backoff_s=dataset.backoff_s,
            timeout_s=dataset.timeout_s,
        )
    except Exception as error:
        record_failure(failures_dir, item.file_id, item.filename, f"{type(error).__name__}: {error}")
        raise
    clear_failure(failures_dir, item.file_id)
    return result
