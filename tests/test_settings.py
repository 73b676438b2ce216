"""The shared config-section parsing: unknown keys, defaults, coercion to field types, config errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.settings import reject_unknown_keys, require, section_values


@dataclass(frozen=True)
class Example:
    count: int = 3
    rate: float = 1.0e-3
    name: str = "otsu"
    flag: bool = False
    sizes: tuple[float, float] = (1.0, 2.0)
    labels: tuple[str, ...] = ("a",)
    extra: Mapping[str, Any] = field(default_factory=dict)


def test_unknown_key_is_named_with_the_section() -> None:
    with pytest.raises(PipelineInputError, match=r"`example`.*unknown keys \['cuont'\].*use only") as info:
        section_values({"cuont": 1}, Example, "example")
    assert "count" in str(info.value)


def test_absent_keys_keep_the_dataclass_defaults() -> None:
    assert section_values(None, Example, "example") == {}
    assert Example(**section_values({"name": "x"}, Example, "example")) == Example(name="x")


def test_values_take_the_declared_types() -> None:
    values = section_values(
        {"count": 4.0, "rate": "1e-4", "name": 7, "sizes": [800, 900], "labels": ["b", 2]},
        Example,
        "example",
    )
    assert values == {"count": 4, "rate": 1e-4, "name": "7", "sizes": (800.0, 900.0), "labels": ("b", "2")}
    assert isinstance(values["count"], int) and isinstance(values["sizes"][0], float)
    assert section_values({"rate": 2}, Example, "example")["rate"] == 2.0
    assert isinstance(section_values({"rate": 2}, Example, "example")["rate"], float)
    assert section_values({"labels": "only"}, Example, "example")["labels"] == ("only",)


def test_other_types_are_left_to_the_section() -> None:
    extra = {"crossfusion": {"dropout": 0.1}}
    assert section_values({"extra": extra}, Example, "example")["extra"] is extra


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"count": True}, r"count=True is not a valid int"),
        ({"count": 2.5}, r"count=2\.5 is not a valid int"),
        ({"rate": "fast"}, r"rate='fast' is not a valid float"),
        ({"flag": "yes"}, r"flag='yes' is not a valid bool"),
        ({"sizes": [1, 2, 3]}, r"sizes=\[1, 2, 3\] is not a valid tuple\[float, float\]"),
        ({"labels": None}, r"labels=None"),
    ],
)
def test_wrong_types_name_the_section_and_key(mapping: dict, message: str) -> None:
    with pytest.raises(PipelineInputError, match=rf"config section `example`: {message}"):
        section_values(mapping, Example, "example")


def test_a_section_can_bring_its_own_error() -> None:
    def error(problem: str, fix: str) -> KeyError:
        return KeyError(f"mine: {problem}")

    with pytest.raises(KeyError, match="mine: unknown keys"):
        section_values({"nope": 1}, Example, "example", error=error)
    with pytest.raises(KeyError, match="mine: count='many'"):
        section_values({"count": "many"}, Example, "example", error=error)


def test_known_keys_can_replace_the_fields() -> None:
    reject_unknown_keys({"nested": {}}, Example, "example", known=("nested",))
    with pytest.raises(PipelineInputError, match=r"unknown keys \['count'\]"):
        reject_unknown_keys({"count": 1}, Example, "example", known=("nested",))


def test_failing_require_names_the_section() -> None:
    require(True, "km", "never raised", "nothing")
    with pytest.raises(PipelineInputError, match=r"config section `km`: groups='x'\. Fix: use median"):
        require(False, "km", "groups='x'", "use median")
