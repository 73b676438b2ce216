"""The learning cohort (tests/config/learning.yaml) as the learning and deployment tests read it."""

from __future__ import annotations

from pathlib import Path

from snakemake_runs import REPO

LEARNING_CONFIG = REPO / "tests" / "config" / "learning.yaml"
RESULTS = Path("results/learning")
BACKBONE = "efficientnet_lite0"
MODELS = ("crossfusion", "linear_probe")
N_FOLDS = 3


def metrics_targets() -> list[str]:
    """What the shared run makes: each model's metrics (so its folds), no figures."""
    return [str(RESULTS / model / BACKBONE / "metrics.json") for model in MODELS]
