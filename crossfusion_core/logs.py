"""Logging for one pipeline job: everything, the final error included, lands in the job's log file.

A SLURM user reads `results/<cohort>/logs/<rule>/<slide>.log`, not a terminal, so the traceback of a
failed slide must be there, and warnings (an empty slide, a skipped patient) as well.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def job_logging(log_path: str | Path | None, level: int = logging.INFO) -> Iterator[logging.Logger]:
    """Send log records and warnings to ``log_path`` and stderr for the duration of the block."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    logger = logging.getLogger("crossfusion")
    try:
        yield logger
    except Exception:
        logger.exception("job failed")
        raise
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
