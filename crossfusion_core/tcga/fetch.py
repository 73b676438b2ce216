"""One cohort slide from the GDC as the workflow asks for it: by slide id, failures recorded.

The download job knows only its slide id; the manifest says which file that is. Every failure is
written to the failures folder before the job fails, so a `--keep-going` run over a thousand slides
ends with one list of what is missing and why.
"""

from __future__ import annotations

from pathlib import Path

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.tcga.download import DownloadResult, download_slide
from crossfusion_core.tcga.failures import clear_failure, record_failure
from crossfusion_core.tcga.manifest import slides_by_id
from crossfusion_core.tcga.source import TcgaSource


def fetch_cohort_slide(source: TcgaSource, slide_id: str, failures_dir: str | Path) -> DownloadResult:
    """Download (or adopt an existing copy of) ``slide_id`` into ``source.data_dir``."""
    slides = slides_by_id(source.manifest, source.slide_pattern)
    if slide_id not in slides:
        raise PipelineInputError(source.manifest, f"no diagnostic slide {slide_id} in the manifest")
    item = slides[slide_id]
    try:
        result = download_slide(
            item.file_id,
            item.filename,
            item.md5,
            item.size_bytes,
            source.data_dir,
            source.gdc_api,
            token_file=source.token_file,
            retries=source.retries,
            backoff_s=source.backoff_s,
            timeout_s=source.timeout_s,
        )
    except Exception as error:
        record_failure(failures_dir, item.file_id, item.filename, f"{type(error).__name__}: {error}")
        raise
    clear_failure(failures_dir, item.file_id)
    return result
