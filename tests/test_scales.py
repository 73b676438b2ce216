"""The scale table: order, whole children, consistent spellings and lookups that name what is wrong."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.scales import (
    MAGNIFICATIONS,
    SCALE_GROUPS,
    SCALE_NAMES,
    SCALES,
    children_per_side,
    magnification_for_mpp,
    scale_at,
    scale_named,
    scale_of_group,
)


def test_the_table_runs_coarsest_first_as_the_models_take_their_bags() -> None:
    assert SCALE_NAMES == ("coarse", "source", "fine")
    assert MAGNIFICATIONS == (5, 10, 20)
    assert SCALE_GROUPS == ("x5", "x10", "x20")
    assert [scale.mpp for scale in SCALES] == [2.0, 1.0, 0.5]


def test_each_patch_splits_into_whole_children() -> None:
    for parent, child in itertools.pairwise(SCALES):
        assert child.magnification % parent.magnification == 0, (parent, child)
        assert children_per_side(parent, child) >= 2


def test_group_and_mpp_follow_the_magnification() -> None:
    for scale in SCALES:
        assert scale.group == f"x{scale.magnification}"
        assert magnification_for_mpp(scale.mpp) == scale.magnification
        assert scale.role


def test_every_spelling_finds_the_same_scale() -> None:
    for scale in SCALES:
        assert scale_named(scale.name) is scale_at(scale.magnification) is scale_of_group(scale.group)
        assert scale_named(scale.name) is scale
    assert scale_at(20.0) is scale_named("fine")


@pytest.mark.parametrize(
    ("lookup", "key", "message"),
    [
        (scale_named, "x10", "scale name 'x10'"),
        (scale_at, 40, "magnification 40"),
        (scale_of_group, "10", "scale group '10'"),
    ],
)
def test_unknown_scales_say_the_table_is_fixed(lookup, key, message: str) -> None:
    with pytest.raises(PipelineInputError, match=rf"{message} is not one of .*crossfusion_core/scales\.py"):
        lookup(key)


def test_the_table_imports_without_torch_or_openslide() -> None:
    """rules/common.smk imports it while Snakemake builds the DAG, where torch would cost seconds."""
    code = "import sys, crossfusion_core.scales; print(sorted({'torch', 'openslide'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
