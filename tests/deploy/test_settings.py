"""The `deploy` section: a target is required, the weights are one of two, models_from is optional."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from reference_data import REPO

from crossfusion_core.deploy.settings import DeploySettings, weights_label
from crossfusion_core.settings import SettingsError


def test_defaults_deploy_the_ensemble_of_models_trained_here() -> None:
    settings = DeploySettings.from_mapping({"target": "config/cohorts/mine.yaml"})
    assert settings == DeploySettings(
        target=Path("config/cohorts/mine.yaml"), weights="ensemble", models_from=None
    )
    assert DeploySettings.from_mapping({"target": "b.yaml", "models_from": None}).models_from is None
    assert DeploySettings.from_mapping({"target": "b.yaml", "models_from": "runs/a"}).models_from == Path(
        "runs/a"
    )


@pytest.mark.parametrize(
    ("mapping", "key", "message"),
    [
        ({"weights": "final"}, ("target",), "no target"),
        (
            {"target": "b.yaml", "weights": "best"},
            ("weights",),
            "'best' is not allowed.*use 'ensemble' or 'final'",
        ),
        ({"target": "b.yaml", "model": "x"}, ("model",), "unknown key 'model'"),
    ],
)
def test_bad_sections_are_refused(mapping: dict, key: tuple[str, ...], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        DeploySettings.from_mapping(mapping)
    assert raised.value.key == key


def test_the_weights_are_named_with_the_number_of_models() -> None:
    assert weights_label("ensemble", 5) == "ensemble of 5 fold models (mean risk)"
    assert weights_label("final", 1) == "final model (trained on all patients)"


def test_the_main_config_deploys_nothing() -> None:
    assert yaml.safe_load((REPO / "config" / "config.yaml").read_text())["deploy"] is None
