"""Which file set a config value: the main config, a ``--configfile`` overlay, or ``--config``.

Snakemake merges the workflow's config/config.yaml, then each overlay in order, then ``--config``
key=value pairs, into one dict and forgets where each value came from. A message about a bad value
must name the file the user has to edit, so the layers are read again here (they are small YAML files)
and the last one that sets a key is its origin.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.settings import KeyPath, dotted_key

COMMAND_LINE = "--config on the command line"


@dataclass(frozen=True)
class ConfigLayer:
    """One source of config values: a file (shown as ``label``) or the command line."""

    label: str
    values: Mapping[str, Any]
    path: Path | None


@dataclass(frozen=True)
class ConfigOrigins:
    """The layers of the run's config, lowest precedence first."""

    layers: tuple[ConfigLayer, ...]

    @classmethod
    def from_sources(
        cls,
        main_config: str | Path | None,
        overlays: Sequence[str | Path] = (),
        command_line: Mapping[str, Any] | None = None,
    ) -> ConfigOrigins:
        """Layers as Snakemake merges them; ``main_config`` is None when ``--replace-workflow-config``."""
        files = ([main_config] if main_config is not None else []) + list(overlays)
        layers = [ConfigLayer(_shown(path), _load(path), Path(path)) for path in files]
        if command_line:
            layers.append(ConfigLayer(COMMAND_LINE, dict(command_line), None))
        return cls(tuple(layers))

    def origin(self, key: KeyPath) -> ConfigLayer | None:
        """The last layer that sets ``key`` (list indices are ignored: lists are replaced whole)."""
        names = tuple(part for part in key if isinstance(part, str))
        for layer in reversed(self.layers):
            if _sets(layer.values, names):
                return layer
        return None

    def error(
        self, key: KeyPath, problem: str, fix: str | None, *, set_at: KeyPath | None = None
    ) -> PipelineInputError:
        """A config error naming the file that set ``key`` (or ``set_at``: the section of a key that no
        file sets, where it belongs), the key itself, the problem and the fix."""
        dotted = dotted_key(key)
        layer = self.origin(key if set_at is None else set_at)
        if layer is None:
            return PipelineInputError(
                None, f"`{dotted}` (not set in any config file, the default): {problem}", fix
            )
        if layer.path is None:
            return PipelineInputError(None, f"{layer.label}, `{dotted}`: {problem}", fix)
        return PipelineInputError(layer.label, f"`{dotted}`: {problem}", fix)


def _sets(values: Mapping[str, Any], names: Sequence[str]) -> bool:
    node: Any = values
    for name in names:
        if not isinstance(node, Mapping) or name not in node:
            return False
        node = node[name]
    return True


def _load(path: str | Path) -> Mapping[str, Any]:
    with open(path) as handle:
        loaded = yaml.safe_load(handle)
    return loaded if isinstance(loaded, Mapping) else {}


def _shown(path: str | Path) -> str:
    """The path as the user would type it: relative to the working directory when inside it."""
    relative = os.path.relpath(os.path.abspath(path))
    return str(path) if relative.startswith("..") else relative
