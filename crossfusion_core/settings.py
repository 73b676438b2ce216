"""The base of every config section: a frozen pydantic model that is the one source of its keys,
types, defaults and allowed values.

Each section of config/config.yaml (and of a cohort overlay) is a :class:`Settings` subclass. Pydantic
refuses misspelt keys (``extra="forbid"``), keeps the defaults of absent ones and brings YAML values to
the declared types; the JSON schema of config/schema.yaml is generated from the same classes
(:mod:`crossfusion_core.run_config`). A refused value becomes a :class:`SettingsError` that carries the
key path of the bad value, so the workflow can name the file that set it without reading the message.

Validators that need words of their own raise :class:`ConfigProblem` (a ``ValueError``, so pydantic
keeps it with its key path) with the problem and the fix a user should read.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from typing_extensions import Self

from crossfusion_core.errors import PipelineInputError

KeyPath = tuple[str | int, ...]
MISSING = "is missing"
"""The problem of a required key left out (or left blank); no config file sets it, so the workflow
names the file that set its section."""


class ConfigProblem(ValueError):
    """What a validator finds wrong with a value, and how to fix it.

    ``key`` is the path below the validated model when the validator checks a whole model (a rule
    between two keys names the key to change); a field's validator leaves it empty.
    """

    def __init__(self, problem: str, fix: str, key: KeyPath = ()) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.key = key


class SettingsError(PipelineInputError):
    """A config section that failed validation; ``key`` is the bad value's path inside ``section``."""

    def __init__(self, section: str, key: KeyPath, problem: str, fix: str) -> None:
        self.section = section
        self.key = key
        where = f"`{dotted_key((section, *key))}`" if key else f"config section `{section}`"
        super().__init__(None, f"{where}: {problem}", fix)
        self.problem = problem  # the message above says where; the workflow names the file and key


class Settings(BaseModel):
    """Base of every config section: frozen, no unknown keys, validated once where it is read."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)
    section: ClassVar[str] = "config"
    """The section's key in the config, for messages about a section checked on its own."""

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> Self:
        """The section from its config mapping (``None`` or absent keys: the defaults)."""
        try:
            return cls.model_validate(dict(mapping or {}))
        except ValidationError as error:
            key, problem, fix = explain(cls, error)
            raise SettingsError(cls.section, key, problem, fix) from None


def explain(model: type[BaseModel], error: ValidationError) -> tuple[KeyPath, str, str]:
    """The key path, problem and fix of the first error pydantic found, in the words of the config."""
    # A misspelt key also leaves the key it meant missing: the misspelling is what to report.
    first = min(error.errors(include_url=False), key=lambda item: item["type"] != "extra_forbidden")
    key, owner = config_key(model, first["loc"][:-1]) if first["loc"] else ((), model)
    key = (*key, *first["loc"][-1:])
    kind, value = first["type"], first.get("input")
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, ConfigProblem):
        return (*key, *cause.key), cause.problem, cause.fix
    if kind == "extra_forbidden":
        known = list(owner.model_fields) if owner is not None else []
        return key, f"unknown key {key[-1]!r}", choose(str(key[-1]), known)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = [str(tag) for tag in _models_in(_field_annotation(owner, key[-1]))]
        tag_key = (*key, first["ctx"]["discriminator"].strip("'"))
        problem = f"{first['ctx']['tag']!r} is not allowed" if "tag" in first["ctx"] else "is missing"
        return tag_key, problem, f"use one of {tags}"
    if kind == "literal_error":
        return key, f"{value!r} is not allowed", f"use {first['ctx']['expected']}"
    if kind == "missing":
        return key, MISSING, "give it (see the examples in config/cohorts/)"
    message = first["msg"].removeprefix("Value error, ")
    return key, f"{value!r} is not valid", message[0].lower() + message[1:]


def config_key(model: type[BaseModel], loc: Sequence[str | int]) -> tuple[KeyPath, type[BaseModel] | None]:
    """``loc`` as the config spells it, and the model found there (None below a plain mapping).

    Pydantic puts the tag of a discriminated union into the location (``source.tcga.manifest``); the
    config has no such key, so the tag only picks the member model and is dropped.
    """
    key: list[str | int] = []
    parts = list(loc)
    owner: type[BaseModel] | None = model
    while parts:
        part = parts.pop(0)
        key.append(part)
        field = owner.model_fields.get(part) if owner is not None and isinstance(part, str) else None
        members = _models_in(field.annotation) if field is not None else {}
        if field is not None and field.discriminator and parts:
            owner = members.get(parts.pop(0))
        else:
            owner = next(iter(members.values())) if len(members) == 1 else None
    return tuple(key), owner


def _field_annotation(model: type[BaseModel] | None, name: str | int) -> Any:
    field = model.model_fields.get(str(name)) if model is not None else None
    return field.annotation if field is not None else None


def _models_in(annotation: Any) -> dict[Any, type[BaseModel]]:
    """The models an annotation admits (``X``, ``X | None``, a union), by ``kind`` where they have one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        kind = annotation.model_fields.get("kind")
        return {kind.default if kind is not None else annotation.__name__: annotation}
    found: dict[Any, type[BaseModel]] = {}
    for member in typing.get_args(annotation):
        found.update(_models_in(member))
    return found


def choose(name: str, known: Sequence[str] | Mapping[str, Any]) -> str:
    """``did you mean 'crossfusion'? use one of [...]``: the fix for a misspelt name."""
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return (f"did you mean {close[0]!r}? " if close else "") + f"use one of {names}"


def dotted_key(key: KeyPath) -> str:
    """``training.models[0]`` for ``("training", "models", 0)``."""
    text = ""
    for part in key:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _whole_number(value: Any) -> Any:
    """YAML's ``true`` is not a count, though Python's ``bool`` is an ``int``."""
    if isinstance(value, bool):
        raise ConfigProblem(f"{value!r} is not a whole number", "give a count such as 4")
    return value


def _one_or_many(value: Any) -> Any:
    """A lone name where a list is meant is a one-item list (``models: abmil``); a YAML key with
    nothing under it (None) is an empty one."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


def _null_as_empty(value: Any) -> Any:
    """A YAML key with nothing under it reads as None, and means an empty mapping."""
    return {} if value is None else value


def each_once(items: tuple[str, ...], what: str) -> tuple[str, ...]:
    """``items`` unchanged, or a problem: each item names files of its own, so one listed twice would
    name the same files twice."""
    repeated = sorted({item for item in items if items.count(item) > 1})
    if repeated:
        raise ConfigProblem(f"lists {repeated} more than once", f"list each {what} once")
    return items


Count = Annotated[int, BeforeValidator(_whole_number)]
"""A whole number; the bounds go in ``Field(ge=...)`` where it is declared."""
PositiveCount = Annotated[int, Field(ge=1), BeforeValidator(_whole_number)]
Names = Annotated[tuple[str, ...], BeforeValidator(_one_or_many)]
"""One name or a list of names (none when the key is empty)."""


NullAsEmpty = BeforeValidator(_null_as_empty)
"""Put in ``Annotated[dict[...], NullAsEmpty]``: an empty YAML mapping key is an empty mapping."""


def _given(value: Any) -> Any:
    """A required path left blank (YAML ``null`` or ``""``) is missing, not the run folder that
    ``Path("")`` would silently name."""
    if value is None or value == "":
        raise ConfigProblem(MISSING, "give it (see the examples in config/cohorts/)")
    return value


def _blank_is_none(value: Any) -> Any:
    """``splits_dir: ""`` means no folder, as ``splits_dir: null`` does."""
    return None if value == "" else value


GivenPath = Annotated[Path, BeforeValidator(_given)]
"""A path the section cannot do without."""
OptionalPath = Annotated[Path | None, BeforeValidator(_blank_is_none)]
"""A path that may be left out, ``null`` or empty (all: None)."""
