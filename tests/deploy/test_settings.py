"""The `deploy` section: a target is required, the weights are one of two, models_from is optional."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from reference_data import REPO

from crossfusion_core.deploy.settings import WEIGHTS, DeploySettings, weights_label
from crossfusion_core.errors import PipelineInputError


def test_defaults_deploy_the_ensemble_of_models_trained_here() -> None:
    settings = DeploySettings.from_mapping({"target": "config/cohorts/mine.yaml"})
    assert settings == DeploySettings(Path("config/cohorts/mine.yaml"), "ensemble", None)
    assert DeploySettings.from_mapping({"target": "b.yaml", "models_from": None}).models_from is None
    assert DeploySettings.from_mapping({"target": "b.yaml", "models_from": "runs/a"}).models_from == Path(
        "runs/a"
    )


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"weights": "final"}, "no target"),
        ({"target": "b.yaml", "weights": "best"}, r"weights='best' is not one of \['ensemble', 'final'\]"),
        ({"target": "b.yaml", "model": "x"}, r"unknown keys \['model'\]"),
    ],
)
def test_bad_sections_are_refused(mapping: dict, message: str) -> None:
    with pytest.raises(PipelineInputError, match=message):
        DeploySettings.from_mapping(mapping)


def test_the_weights_are_named_with_the_number_of_models() -> None:
    assert weights_label("ensemble", 5) == "ensemble of 5 fold models (mean risk)"
    assert weights_label("final", 1) == "final model (trained on all patients)"


def test_the_schema_offers_exactly_the_weights_the_settings_take() -> None:
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    assert schema["properties"]["deploy"]["properties"]["weights"]["enum"] == list(WEIGHTS)
    assert yaml.safe_load((REPO / "config" / "config.yaml").read_text())["deploy"] is None
