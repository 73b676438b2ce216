"""Per-slide stages run as batch jobs: which batch a slide is in, and how a batch reports per slide.

Each job of a per-slide stage pays a Python start, its imports (tiatoolbox and torch take seconds)
and, for feature extraction, a model load; on a cohort of small slides that is most of the stage's
time. So generating, segmenting + patching and featurising run one job per batch of slides, and a
small per-slide job then takes each slide's files from its batch's folder (see rules/common.smk).

A slide's batch follows from its id alone (a hash, not its position in the cohort), so excluding or
adding a slide reruns its own batch and no other. The batch job writes each slide's files, its log
and, when the slide's input is unusable, its error into a folder of its own; one bad slide does not
stop its batch, and the slide's own job then fails with that error.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.io import write_text

LOGGER = logging.getLogger(__name__)
SLIDE_LOG = "job.log"
"""Each slide's log records in its folder of the batch (the per-slide job publishes it)."""
SLIDE_ERROR = "error.txt"
"""Written instead of a slide's files when its input is unusable: the message, naming file and fix."""


def batch_of(slide_id: str, n_batches: int) -> str:
    """The batch of ``slide_id`` among ``n_batches`` (``b0``, ``b1``, ...; zero-padded to one width).

    A cryptographic hash, not Python's ``hash`` (randomised per process): the same id gets the same
    batch on every machine and in every run.
    """
    digest = hashlib.blake2b(slide_id.encode(), digest_size=8).digest()
    index = int.from_bytes(digest, "big") % n_batches
    return f"b{index:0{len(str(n_batches - 1))}d}"


def slides_by_batch(slide_ids: Iterable[str], n_batches: int) -> dict[str, list[str]]:
    """Batch -> its slides in the given order; batches that hold no slide are left out."""
    batches: dict[str, list[str]] = {}
    for slide_id in slide_ids:
        batches.setdefault(batch_of(slide_id, n_batches), []).append(slide_id)
    return dict(sorted(batches.items()))


def run_per_slide(
    batch_folder: str | Path, slide_ids: Sequence[str], work: Callable[[str, Path], None]
) -> list[str]:
    """Call ``work(slide_id, batch_folder/slide_id)`` for each slide, its log records also in that
    folder's ``job.log``.

    A :class:`PipelineInputError` (an unusable slide) is logged and written to the folder's
    ``error.txt``, and the next slide goes on; any other exception is a bug or a broken environment and
    stops the batch. Returns the slides that failed.
    """
    failed = []
    for position, slide_id in enumerate(slide_ids, start=1):
        LOGGER.info("slide %d of %d: %s", position, len(slide_ids), slide_id)
        folder = Path(batch_folder) / slide_id
        folder.mkdir(parents=True, exist_ok=True)
        try:
            with _slide_log(folder / SLIDE_LOG):
                work(slide_id, folder)
        except PipelineInputError as error:
            write_text(folder / SLIDE_ERROR, f"{error}\n")
            failed.append(slide_id)
    if failed:
        LOGGER.warning("%d of %d slides failed: %s", len(failed), len(slide_ids), ", ".join(failed))
    return failed


@contextmanager
def _slide_log(path: Path) -> Iterator[None]:
    """Copy this process's log records (warnings included) into ``path`` for the block; an input
    error is logged there with its traceback before it leaves the block."""
    handler = logging.FileHandler(path, mode="w")
    root = logging.getLogger()
    if root.handlers:
        handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    try:
        yield
    except PipelineInputError:
        LOGGER.exception("slide failed")
        raise
    finally:
        root.removeHandler(handler)
        handler.close()
