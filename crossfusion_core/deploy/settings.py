"""The ``deploy`` config section: which cohort the trained models are applied to, and with which weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

from pydantic import model_validator

from crossfusion_core.settings import ConfigProblem, Settings

Weights = Literal["ensemble", "final"]
WEIGHTS = get_args(Weights)
"""``ensemble``: the mean risk of the cross-validation's fold models; ``final``: one model trained on
every patient of the trained cohort (``training.final_model``)."""


class DeploySettings(Settings):
    """Apply the models of this run's cohort to the cohort of ``target`` (a cohort config file).

    ``models_from``: a folder laid out like ``results/{cohort}/`` of another run (``{model}/{backbone}/
    fold_{k}/`` with ``model.pt``, ``training_risks.csv`` and ``predictions.csv``, or ``final/``), used
    instead of training here; None trains the models in this run.
    """

    section: ClassVar[str] = "deploy"
    target: Path
    weights: Weights = "ensemble"
    models_from: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _has_target(cls, values: Any) -> Any:
        """A deployment without a target is the one key a user cannot leave to a default: say what it is."""
        if isinstance(values, dict) and not values.get("target"):
            raise ConfigProblem(
                "no target",
                "name the cohort config file to deploy on, as config/deploy_example.yaml does",
                key=("target",),
            )
        return values


def weights_label(weights: str, n_models: int) -> str:
    """How a deployed risk was made, as every output table names it."""
    if weights == "final":
        return "final model (trained on all patients)"
    return f"ensemble of {n_models} fold models (mean risk)"
