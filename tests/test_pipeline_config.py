"""The one config model: config/schema.yaml is written from it, config/config.yaml restates its defaults,
and a refused value comes back with the key path the config spells (no message text is parsed)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from reference_data import REPO

from crossfusion_core.models.registry import MODEL_NAMES, model_options
from crossfusion_core.pipeline_config import PipelineConfig, config_schema
from crossfusion_core.settings import Settings, SettingsError

MAIN_CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
DEMO_CHOICES = ("training", "model_options")
"""The one block of config.yaml that is not a default: the demo's model sizes (the options models keep
the study's), checked like any user's values."""


def test_the_committed_schema_is_the_one_the_model_writes() -> None:
    committed = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    assert committed == yaml.safe_load(yaml.safe_dump(config_schema())), (
        "config/schema.yaml is stale: python -m crossfusion_core.pipeline_config > config/schema.yaml"
    )


def _without_demo_choices(values: dict[str, Any]) -> dict[str, Any]:
    values["training"].pop(DEMO_CHOICES[1])
    return values


def test_the_main_config_restates_every_default() -> None:
    written = PipelineConfig.from_mapping(MAIN_CONFIG).model_dump(mode="json")
    defaults = PipelineConfig().model_dump(mode="json")
    assert _without_demo_choices(written) == _without_demo_choices(defaults)


def test_the_main_config_shows_every_key_of_every_section() -> None:
    missing = []
    for name, field in PipelineConfig.model_fields.items():
        section = field.default
        if isinstance(section, Settings) and name != "dataset":
            missing += [f"{name}.{key}" for key in type(section).model_fields if key not in MAIN_CONFIG[name]]
    assert set(MAIN_CONFIG) == set(PipelineConfig.model_fields)
    assert not missing, f"config/config.yaml does not show {missing}"


def test_demo_model_choices_are_valid_options() -> None:
    for name, options in MAIN_CONFIG[DEMO_CHOICES[0]][DEMO_CHOICES[1]].items():
        assert model_options(name, options).model_name == name


def test_every_model_of_the_registry_has_checked_options() -> None:
    for name in MODEL_NAMES:
        assert model_options(name).model_name == name


@pytest.mark.parametrize(
    ("config", "key", "problem", "fix"),
    [
        ({"trainin": {}}, ("trainin",), "unknown key 'trainin'", "did you mean 'training'?"),
        ({"training": {"n_bins": "four"}}, ("training", "n_bins"), "'four' is not valid", "integer"),
        ({"segmentation": {"method": "watershed"}}, ("segmentation", "method"), "not allowed", "'otsu'"),
        ({"dataset": {"kind": "gdc"}}, ("dataset", "kind"), "'gdc' is not allowed", "'tcga'"),
        (
            {"dataset": {"kind": "tcga", "project": "TCGA-BLCA", "manifest": "m.txt", "data_dr": "x"}},
            ("dataset", "data_dr"),
            "unknown key 'data_dr'",
            "did you mean 'data_dir'?",
        ),
        ({"patching": {"patch_size_px": True}}, ("patching", "patch_size_px"), "whole number", "count"),
        ({"cohort": "my cohort"}, ("cohort",), "'my cohort' is not valid", "pattern"),
        ({"source": {"kind": "synthetic"}}, ("source",), "now called `dataset`", "rename `source:`"),
    ],
)
def test_a_refused_value_carries_its_config_key(
    config: dict[str, Any], key: tuple[str, ...], problem: str, fix: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        PipelineConfig.from_mapping(config)
    assert refused.value.key == key
    assert problem in refused.value.problem
    assert fix in refused.value.fix
