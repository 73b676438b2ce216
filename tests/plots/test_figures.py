"""Saving one figure in every format the `km.formats` setting accepts."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure
from PIL import Image

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.plots.figures import save_figure
from crossfusion_core.plots.settings import FIGURE_FORMATS


def test_every_accepted_format_is_written_as_that_format(tmp_path) -> None:
    figure = Figure(figsize=(3, 2))
    figure.add_subplot().plot([0, 1, 2], [2, 0, 1])
    paths = [tmp_path / f"curve.{ext}" for ext in FIGURE_FORMATS]
    save_figure(figure, paths)
    with Image.open(tmp_path / "curve.png") as image:
        assert image.format == "PNG"
    assert (tmp_path / "curve.pdf").read_bytes().startswith(b"%PDF")
    svg = (tmp_path / "curve.svg").read_text()
    assert svg.startswith("<?xml") and "<svg" in svg and "</svg>" in svg
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(path.name for path in paths)


def test_an_unknown_format_names_the_file(tmp_path) -> None:
    with pytest.raises(PipelineInputError, match=r"curve\.gif: cannot write a figure as 'gif'"):
        save_figure(Figure(), [tmp_path / "curve.gif"])
