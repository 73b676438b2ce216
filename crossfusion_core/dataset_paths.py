"""The path types of the `dataset` section, shared by its kinds (TCGA, local).

YAML gives ``null`` or an empty string for a path a user leaves blank (``splits_dir:``); for an optional
path both mean "none", and for a required one both mean the path is missing, instead of the run folder
that ``Path("")`` would silently name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator

from crossfusion_core.settings import ConfigProblem


def _given(value: Any) -> Any:
    """A required path left blank is missing, as if its key were absent."""
    if value is None or value == "":
        raise ConfigProblem("is missing", "give it (see the examples in config/cohorts/)")
    return value


def _blank_is_none(value: Any) -> Any:
    """``splits_dir: ""`` means no folder, as ``splits_dir: null`` does."""
    return None if value == "" else value


GivenPath = Annotated[Path, BeforeValidator(_given)]
"""A path the section cannot do without."""
OptionalPath = Annotated[Path | None, BeforeValidator(_blank_is_none)]
"""A path that may be left out, ``null`` or empty (all: None)."""
