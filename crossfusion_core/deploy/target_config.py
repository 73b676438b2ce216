"""The config of the cohort trained models are deployed on: the run's config with the target's file on top.

The target goes through the trained cohort's segmentation, patching and feature extraction (the models
only understand features made the same way), so it inherits every section of the run's config and
its own file changes what it sets, as any ``--configfile`` overlay does. Three things describe a
cohort's own slides and are never inherited: ``dataset`` (unless the target's file has none), and the
slide ids of ``slides`` and ``heatmaps.slides``, which name the trained cohort's slides. ``deploy``
itself is dropped: a target is not deployed again.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

OWN_SECTIONS = ("slides",)
"""Sections that describe only the cohort that sets them (slide ids, their corrections, their batches)."""


def target_config(run_config: Mapping[str, Any], target_file: Mapping[str, Any]) -> dict[str, Any]:
    """The merged config of the deployment target (see the module docstring)."""
    inherited = {key: copy.deepcopy(value) for key, value in run_config.items() if key != "deploy"}
    for section in OWN_SECTIONS:
        inherited[section] = {}
    inherited["heatmaps"] = {**inherited.get("heatmaps", {}), "slides": []}
    if "dataset" in target_file:
        inherited.pop("dataset", None)
    return _overlaid(inherited, target_file)


def _overlaid(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` on ``base``: mappings merged key by key, every other value (lists too) replaced,
    as Snakemake merges ``--configfile`` overlays."""
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            base[key] = _overlaid(dict(base[key]), value)
        else:
            base[key] = copy.deepcopy(value)
    return base
