"""Parsing of config sections into frozen settings dataclasses, shared by every package.

Each section of config/config.yaml (and of a cohort overlay) becomes a frozen dataclass whose
``from_mapping`` checks it once, where the workflow hands it over. The mechanics are the same for all of
them (refuse misspelt keys, keep the defaults of absent ones, bring YAML values to the declared types,
raise a config error naming the section and the key), so they live here rather than in one of the
packages that happens to need them first.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import fields
from typing import Any

from crossfusion_core.errors import PipelineInputError

ErrorFactory = Callable[[str, str], Exception]
"""Builds the exception for ``(problem, fix)``; sections with their own wording pass one."""


def section_error(section: str) -> ErrorFactory:
    """The default config error, so every section's messages start the same way."""

    def error(problem: str, fix: str) -> PipelineInputError:
        return PipelineInputError(None, f"config section `{section}`: {problem}", fix)

    return error


def require(condition: bool, section: str, problem: str, fix: str) -> None:
    """Raise a config error for ``section`` unless ``condition`` holds."""
    if not condition:
        raise section_error(section)(problem, fix)


def reject_unknown_keys(
    mapping: Mapping[str, Any],
    settings_class: type,
    section: str,
    *,
    error: ErrorFactory | None = None,
    known: Collection[str] | None = None,
) -> None:
    """Fail on a misspelt key instead of silently running with its default.

    ``known`` replaces the dataclass fields where the config nests or renames them.
    """
    allowed = sorted(known if known is not None else (field.name for field in fields(settings_class)))
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        raise (error or section_error(section))(f"unknown keys {unknown}", f"use only {allowed}")


def section_values(
    mapping: Mapping[str, Any] | None,
    settings_class: type,
    section: str,
    *,
    error: ErrorFactory | None = None,
) -> dict[str, Any]:
    """The given keys of ``mapping``, checked and coerced, ready for ``settings_class(**values)``.

    Absent keys are left out so that the dataclass defaults stay the single source of defaults.
    """
    mapping = dict(mapping or {})
    error = error or section_error(section)
    reject_unknown_keys(mapping, settings_class, section, error=error)
    return coerced_values(mapping, settings_class, error)


def coerced_values(mapping: Mapping[str, Any], settings_class: type, error: ErrorFactory) -> dict[str, Any]:
    """Each value brought to its field's declared type; one that cannot be is an error naming the key.

    Callers must have rejected unknown keys already.
    """
    # get_type_hints resolves the strings that `from __future__ import annotations` leaves in the fields.
    hints = typing.get_type_hints(settings_class)
    values = {}
    for name, value in mapping.items():
        try:
            values[name] = coerce(value, hints[name])
        except (TypeError, ValueError):
            kind = _type_name(hints[name])
            raise error(f"{name}={value!r} is not a valid {kind}", f"give {name} as type {kind}") from None
    return values


def coerce(value: Any, kind: Any) -> Any:
    """``value`` as a ``kind``, raising ValueError or TypeError where that would lose meaning.

    YAML reads ``1e-4`` as a string, ``512`` as an int where a float is meant and sequences as lists;
    those are accepted. A count given as ``true`` or ``2.5`` is a mistake, so neither is an int; a float
    takes whatever ``float()`` takes, as every section always did. A lone string in a tuple field is a
    one-item tuple (``models: abmil``). Other types (mappings, paths, optionals) are left to the section.
    """
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(value)
        return value
    if kind is int:
        if isinstance(value, bool):
            raise ValueError(value)
        if isinstance(value, int):
            return value
        number = float(value)
        if not number.is_integer():
            raise ValueError(value)
        return int(number)
    if kind is float:
        return float(value)
    if kind is str:
        return str(value)
    if typing.get_origin(kind) is tuple:
        items = [value] if isinstance(value, str) else list(value)
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(items)
        if len(args) != len(items):
            raise ValueError(value)
        return tuple(coerce(item, item_kind) for item, item_kind in zip(items, args, strict=True))
    return value


def _type_name(kind: Any) -> str:
    """``float`` or ``tuple[float, float]`` as a reader of the config would write it."""
    return kind.__name__ if isinstance(kind, type) else str(kind).replace("typing.", "")
