"""config/schema.yaml and config/config.yaml stay in step with the settings dataclasses.

The dataclasses are the one source of truth for keys, types, allowed names and defaults; the schema
restates the keys, types and names (for editors and a first check), the main config restates the
defaults (as documentation a user edits). These tests fail the moment one of them drifts.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from reference_data import REPO

from crossfusion_core.cohort import SOURCE_KINDS, SlideSettings
from crossfusion_core.deploy.settings import DeploySettings
from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.features import settings as features
from crossfusion_core.local.source import LocalSource
from crossfusion_core.models.registry import MODEL_NAMES, model_options
from crossfusion_core.plots.settings import FIGURE_FORMATS, KM_GROUPS, HeatmapSettings, KmSettings
from crossfusion_core.settings import coerce
from crossfusion_core.synthetic.settings import SyntheticSettings
from crossfusion_core.tcga.source import TcgaSource
from crossfusion_core.training import settings as training
from crossfusion_core.wsi.settings import SEGMENTATION_METHODS, PatchingSettings, SegmentationSettings

SCHEMA = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
MAIN_CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())

SECTIONS: dict[str, type] = {
    "synthetic": SyntheticSettings,
    "slides": SlideSettings,
    "segmentation": SegmentationSettings,
    "patching": PatchingSettings,
    "features": features.FeatureSettings,
    "training": training.TrainingSettings,
    "evaluation": EvaluationSettings,
    "km": KmSettings,
    "heatmaps": HeatmapSettings,
    "deploy": DeploySettings,
}
"""Sections whose config keys are exactly the dataclass fields (source is mapped below)."""

ENUMS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("source", "kind"): SOURCE_KINDS,
    ("segmentation", "method"): SEGMENTATION_METHODS,
    ("features", "device"): features.DEVICES,
    ("features", "precision"): features.PRECISIONS,
    ("features", "read_strategy"): features.READ_STRATEGIES,
    ("features", "external", "format"): features.EXTERNAL_FORMATS,
    ("training", "protocol"): training.PROTOCOLS,
    ("training", "selection"): training.SELECTIONS,
    ("training", "items"): training.ITEMS,
    ("training", "loss"): training.LOSSES,
    ("training", "device"): training.DEVICES,
    ("km", "groups"): tuple(KM_GROUPS),
    ("km", "formats"): FIGURE_FORMATS,
}
"""Every name list of the schema and the dataclass-side constant that decides it."""

JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean", Path: "string"}


def _resolved(node: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    return SCHEMA["$defs"][ref.rsplit("/", 1)[-1]] if ref else node


def _schema_node(*key: str) -> Mapping[str, Any]:
    node = SCHEMA
    for part in key:
        node = _resolved(node["properties"][part])
    return node


def _types(node: Mapping[str, Any]) -> set[str]:
    kind = node["type"]
    return {kind} if isinstance(kind, str) else set(kind)


def _expected_types(hint: Any) -> set[str]:
    """JSON types a field of type ``hint`` is written as in YAML (``X | None`` adds null)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return set().union(*(_expected_types(arg) for arg in typing.get_args(hint)))
    if hint is type(None):
        return {"null"}
    if typing.get_origin(hint) is tuple:
        return {"array"}
    if typing.get_origin(hint) in (Mapping, dict) or dataclasses.is_dataclass(hint):
        return {"object"}
    return {JSON_TYPES[hint]}


def _section_hints(settings_class: type, properties: Mapping[str, Any]) -> dict[str, Any]:
    """Field name -> type; a dataclass field the section writes flat (features' resources) is opened."""
    hints = {}
    for name, hint in typing.get_type_hints(settings_class).items():
        if dataclasses.is_dataclass(hint) and name not in properties:
            hints.update(typing.get_type_hints(hint))
        else:
            hints[name] = hint
    return hints


@pytest.mark.parametrize("section", SECTIONS)
def test_schema_keys_and_types_are_the_dataclass_fields(section: str) -> None:
    settings_class = SECTIONS[section]
    properties = _schema_node(section)["properties"]
    hints = _section_hints(settings_class, properties)
    assert set(properties) == set(hints)
    for name, hint in hints.items():
        schema_types = _types(_resolved(properties[name]))
        assert _expected_types(hint) <= schema_types, f"{section}.{name}: {hint} vs {schema_types}"
        if "null" in schema_types - _expected_types(hint):  # an empty YAML key reads as null
            settings_class.from_mapping({name: None})


def test_source_keys_are_those_of_the_tcga_and_local_sources() -> None:
    tcga = {field.name for field in dataclasses.fields(TcgaSource)} - {"projects"} | {"project"}
    local = {field.name for field in dataclasses.fields(LocalSource)}
    assert set(_schema_node("source")["properties"]) == {"kind"} | tcga | local


@pytest.mark.parametrize("key", ENUMS, ids=".".join)
def test_schema_names_are_the_dataclass_choices_and_each_is_accepted(key: tuple[str, ...]) -> None:
    node = _schema_node(*key)
    listed = node["items"]["enum"] if node.get("type") == "array" else node["enum"]
    assert listed == list(ENUMS[key])
    if key[0] in SECTIONS and len(key) == 2:
        for value in listed:
            SECTIONS[key[0]].from_mapping({key[1]: [value] if node.get("type") == "array" else value})


def _default(settings_class: type, name: str) -> Any:
    field = {field.name: field for field in dataclasses.fields(settings_class)}[name]
    return field.default_factory() if field.default is dataclasses.MISSING else field.default


def _differences(section: str, settings_class: type, values: Mapping[str, Any]) -> list[str]:
    found = []
    for name, value in values.items():
        owner = settings_class
        if name not in {field.name for field in dataclasses.fields(settings_class)}:
            owner = features.ExtractionResources  # the one section with keys of a nested dataclass
        written = value if value is None else coerce(value, typing.get_type_hints(owner)[name])
        if written != _default(owner, name):
            found.append(f"{section}.{name}: config.yaml {value!r}, dataclass {_default(owner, name)!r}")
    return found


def test_the_main_config_restates_the_dataclass_defaults() -> None:
    """Every value of config.yaml is its dataclass's default, except ``training.model_options``: those
    are the demo's choices of model size (the options dataclasses keep the study's), checked for
    validity by the config checks like any user's."""
    found = []
    for section, settings_class in SECTIONS.items():
        values = dict(MAIN_CONFIG.get(section) or {})
        values.pop("model_options", None)
        if section == "features":
            values.pop("external", None)
        found += _differences(section, settings_class, values)
    assert not found, "config/config.yaml and the settings dataclasses disagree:\n" + "\n".join(found)


def test_every_model_of_the_registry_has_checked_options() -> None:
    for name in MODEL_NAMES:
        assert model_options(name).model_name == name
