"""The state a killed training needs to carry on exactly where it stopped.

Saved after every epoch (atomically) to ``out_dir/.resume.pt`` and removed once the fold's outputs are
written. It holds everything the next epoch depends on: weights, Adam moments, the learning-rate
schedule, the selection bookkeeping and the history. Random state needs no saving because every epoch
reseeds from ``(seed, epoch)``. A fingerprint of the run's inputs guards against resuming a different
run (changed settings, split or model options): such a file is ignored with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from crossfusion_core.io import atomic_path

LOGGER = logging.getLogger(__name__)
RESUME_NAME = ".resume.pt"


def fingerprint(payload: Any) -> str:
    """A stable hash of a JSON-able description of the run."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class ResumeState:
    """Progress of one fold after ``epochs_done`` epochs."""

    fingerprint: str
    epochs_done: int = 0
    steps_done: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    model: dict[str, Any] | None = None
    optimizer: dict[str, Any] | None = None
    scheduler: dict[str, Any] | None = None

    def save(self, out_dir: Path) -> None:
        with atomic_path(out_dir / RESUME_NAME) as tmp:
            torch.save(self.__dict__, tmp)

    @classmethod
    def load_or_new(cls, out_dir: Path, run_fingerprint: str) -> ResumeState:
        """The saved state of this same run, or a fresh one."""
        path = out_dir / RESUME_NAME
        if not path.is_file():
            return cls(run_fingerprint)
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved.get("fingerprint") != run_fingerprint:
            LOGGER.warning("%s belongs to a different run (settings or split changed); starting over", path)
            return cls(run_fingerprint)
        LOGGER.info("%s: resuming after epoch %d", path, saved["epochs_done"])
        return cls(**saved)

    @staticmethod
    def remove(out_dir: Path) -> None:
        (out_dir / RESUME_NAME).unlink(missing_ok=True)
