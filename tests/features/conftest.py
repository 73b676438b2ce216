"""Fixtures of the feature tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.patch_files import MAGNIFICATIONS


@pytest.fixture
def out_paths(tmp_path: Path) -> dict[int, Path]:
    return {m: tmp_path / "features" / "efficientnet_lite0" / f"x{m}" / "SLIDE.h5" for m in MAGNIFICATIONS}
