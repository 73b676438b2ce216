"""The ``deploy`` config section: which cohort the trained models are applied to, and with which weights."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossfusion_core.settings import require, section_values

WEIGHTS = ("ensemble", "final")
"""``ensemble``: the mean risk of the cross-validation's fold models; ``final``: one model trained on
every patient of the trained cohort (``training.final_model``)."""


@dataclass(frozen=True)
class DeploySettings:
    """Apply the models of this run's cohort to the cohort of ``target`` (a cohort config file).

    ``models_from``: a folder laid out like ``results/{cohort}/`` of another run (``{model}/{backbone}/
    fold_{k}/`` with ``model.pt``, ``training_risks.csv`` and ``predictions.csv``, or ``final/``), used
    instead of training here; None trains the models in this run.
    """

    target: Path
    weights: str = "ensemble"
    models_from: Path | None = None

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> DeploySettings:
        values = section_values(mapping, cls, "deploy")
        require("target" in values, "deploy", "no target", "name the cohort config file to deploy on")
        settings = cls(
            target=Path(values["target"]),
            weights=values.get("weights", cls.weights),
            models_from=Path(values["models_from"]) if values.get("models_from") else None,
        )
        require(
            settings.weights in WEIGHTS,
            "deploy",
            f"weights={settings.weights!r} is not one of {list(WEIGHTS)}",
            "use ensemble (the fold models' mean risk) or final (training.final_model: true)",
        )
        return settings


def weights_label(weights: str, n_models: int) -> str:
    """How a deployed risk was made, as every output table names it."""
    if weights == "final":
        return "final model (trained on all patients)"
    return f"ensemble of {n_models} fold models (mean risk)"
