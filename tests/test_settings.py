"""The Settings base of every config section: unknown keys, defaults, YAML values brought to their
types, and errors that carry the key path, the problem and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import pytest
from pydantic import Field, model_validator
from typing_extensions import Self

from crossfusion_core.settings import (
    ConfigProblem,
    Count,
    GivenPath,
    Names,
    OptionalPath,
    Settings,
    SettingsError,
    choose,
)


class Nested(Settings):
    section: ClassVar[str] = "nested"
    size: Count = Field(2, ge=1)
    names: Names = ("a",)
    kind: Literal["otsu", "morphological"] = "otsu"
    upper: float = 4.0

    @model_validator(mode="after")
    def _size_below_upper(self) -> Self:
        if self.size > self.upper:
            raise ConfigProblem(f"size={self.size} is above upper={self.upper}", "lower size", key=("size",))
        return self


class Outer(Settings):
    section: ClassVar[str] = "outer"
    inner: Nested = Nested()


@pytest.mark.parametrize(
    ("mapping", "key", "problem", "fix"),
    [
        ({"inner": {"sise": 1}}, ("inner", "sise"), "unknown key 'sise'", "did you mean 'size'?"),
        ({"inner": {"kind": "x"}}, ("inner", "kind"), "'x' is not allowed", "use 'otsu' or 'morphological'"),
        ({"inner": {"size": True}}, ("inner", "size"), "True is not a whole number", "give a count"),
        ({"inner": {"size": 0}}, ("inner", "size"), "0 is not valid", "greater than or equal to 1"),
        ({"inner": {"size": 3, "upper": 2}}, ("inner", "size"), "size=3 is above upper=2.0", "lower size"),
    ],
)
def test_settings_errors_carry_the_key_path_problem_and_fix(mapping, key, problem, fix) -> None:
    with pytest.raises(SettingsError) as info:
        Outer.from_mapping(mapping)
    assert (info.value.section, info.value.key) == ("outer", key)
    assert problem in info.value.problem and fix in info.value.fix
    assert f"`outer.{'.'.join(map(str, key))}`" in str(info.value)


def test_settings_keep_defaults_and_take_one_name_for_a_list() -> None:
    assert Outer.from_mapping(None) == Outer()
    assert Nested.from_mapping({"names": "b", "size": 1.0}) == Nested(names=("b",), size=1)


def test_choose_suggests_the_closest_name() -> None:
    assert (
        choose("crossfusoin", ["abmil", "crossfusion"])
        == "did you mean 'crossfusion'? use one of ['abmil', 'crossfusion']"
    )
    assert choose("zzz", ["abmil"]) == "use one of ['abmil']"


class Paths(Settings):
    section: ClassVar[str] = "paths"
    sheet: GivenPath
    splits_dir: OptionalPath = None


def test_a_blank_path_is_missing_where_required_and_none_where_optional() -> None:
    assert Paths.from_mapping({"sheet": "s.csv", "splits_dir": ""}).splits_dir is None
    assert Paths.from_mapping({"sheet": "s.csv", "splits_dir": "folds"}).splits_dir == Path("folds")
    for blank in (None, ""):
        with pytest.raises(SettingsError) as refused:
            Paths.from_mapping({"sheet": blank})
        assert refused.value.key == ("sheet",) and refused.value.problem == "is missing"
