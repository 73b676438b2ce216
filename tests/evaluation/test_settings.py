"""The evaluation, km and heatmaps config sections load from the shipped config and reject bad values."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.plots.settings import HeatmapSettings, KmSettings

CONFIG = yaml.safe_load((Path(__file__).parents[2] / "config" / "config.yaml").read_text())


def test_shipped_config_sections_load() -> None:
    assert EvaluationSettings.from_mapping(CONFIG["evaluation"]).tied_tol == 1e-8
    km = KmSettings.from_mapping(CONFIG["km"])
    assert km.n_groups in (2, 3) and set(km.formats) <= {"png", "pdf"}
    heatmaps = HeatmapSettings.from_mapping(CONFIG["heatmaps"])
    assert heatmaps.chunk_size > 0 and heatmaps.thumbnail_mpp > 0


@pytest.mark.parametrize(
    ("settings_type", "mapping", "message"),
    [
        (EvaluationSettings, {"tied_tol": -1}, "negative"),
        (EvaluationSettings, {"tide_tol": 1e-8}, "unknown keys"),
        (KmSettings, {"confidence_level": 1.5}, "confidence_level"),
        (KmSettings, {"formats": ["tiff"]}, "formats"),
        (HeatmapSettings, {"colormap": "no-such-map"}, "colormap"),
        (HeatmapSettings, {"chunk_size": 0}, "chunk_size"),
    ],
)
def test_bad_values_are_config_errors(settings_type, mapping, message) -> None:
    with pytest.raises(PipelineInputError, match=message):
        settings_type.from_mapping(mapping)


def test_configured_slides_are_ids_not_file_names() -> None:
    """Slide ids are not file names (a local cohort's ids may contain dots): nothing is stripped."""
    assert HeatmapSettings.from_mapping({"slides": ["A.svs", "B"]}).slides == ("A.svs", "B")
    assert HeatmapSettings.from_mapping({"slides": None}).slides == ()
