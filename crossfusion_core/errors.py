"""The few exception types the pipeline raises on bad input.

Every message names the file (or patient), the problem and, where there is one, the fix, because the
person reading it is usually looking at a Snakemake log of one job among hundreds.
"""

from __future__ import annotations

from pathlib import Path


class PipelineInputError(ValueError):
    """An input file or table is unusable; the message says which and why."""

    def __init__(self, path: str | Path | None, problem: str, fix: str | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        self.fix = fix
        where = f"{self.path}: " if self.path is not None else ""
        hint = f" Fix: {fix}" if fix else ""
        super().__init__(f"{where}{problem}.{hint}")


class SlideReadError(PipelineInputError):
    """A slide cannot be opened or a region of it cannot be decoded."""


class MissingResolutionError(PipelineInputError):
    """A slide says neither its microns per pixel nor its objective power."""


class MissingWeightsError(RuntimeError):
    """A backbone's weights are neither at the configured path nor reachable on the hub."""


class FeatureMismatchError(PipelineInputError):
    """Feature files disagree with each other or with the configured backbone."""
