"""The evaluation, km and heatmaps config sections load from the shipped config and reject bad values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.plots.settings import HeatmapSettings, KmSettings
from crossfusion_core.settings import SettingsError

CONFIG = yaml.safe_load((Path(__file__).parents[2] / "config" / "config.yaml").read_text())


def test_shipped_config_sections_load() -> None:
    assert EvaluationSettings.from_mapping(CONFIG["evaluation"]).tied_tol == 1e-8
    km = KmSettings.from_mapping(CONFIG["km"])
    assert km.n_groups in (2, 3) and set(km.formats) <= {"png", "pdf"}
    heatmaps = HeatmapSettings.from_mapping(CONFIG["heatmaps"])
    assert heatmaps.chunk_size > 0 and heatmaps.thumbnail_mpp > 0


@pytest.mark.parametrize(
    ("settings_type", "mapping", "key", "message"),
    [
        (EvaluationSettings, {"tied_tol": -1}, ("tied_tol",), "greater than or equal to 0"),
        (EvaluationSettings, {"tide_tol": 1e-8}, ("tide_tol",), "unknown key 'tide_tol'"),
        (
            EvaluationSettings,
            {"bootstrap_resamples": 50},
            ("bootstrap_resamples",),
            "greater than or equal to 100",
        ),
        (
            EvaluationSettings,
            {"confidence_level": 0.4},
            ("confidence_level",),
            "greater than or equal to 0.5",
        ),
        (KmSettings, {"confidence_level": 1.5}, ("confidence_level",), "less than 1"),
        (KmSettings, {"formats": ["png", "tiff"]}, ("formats", 1), "'tiff' is not allowed"),
        (KmSettings, {"formats": ["png", "png"]}, ("formats",), "more than once"),
        (HeatmapSettings, {"colormap": "no-such-map"}, ("colormap",), "not a matplotlib colormap"),
        (HeatmapSettings, {"chunk_size": 0}, ("chunk_size",), "greater than or equal to 1"),
        (HeatmapSettings, {"score": "saliency"}, ("score",), "'saliency' is not allowed"),
    ],
)
def test_bad_values_are_config_errors(settings_type, mapping, key, message) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        settings_type.from_mapping(mapping)
    assert raised.value.key == key
    assert raised.value.section == settings_type.section


def test_configured_slides_are_ids_not_file_names() -> None:
    """Slide ids are not file names (a local cohort's ids may contain dots): nothing is stripped."""
    assert HeatmapSettings.from_mapping({"slides": ["A.svs", "B"]}).slides == ("A.svs", "B")
    assert HeatmapSettings.from_mapping({"slides": None}).slides == ()
    assert HeatmapSettings.from_mapping({"slides": "A"}).slides == ("A",)


def test_the_bootstrap_is_not_imported_to_check_the_section() -> None:
    """The workflow checks this section at every DAG build; scikit-survival would add ~1.5 s to each."""
    code = (
        "import sys; from crossfusion_core.evaluation.settings import EvaluationSettings; "
        "EvaluationSettings.from_mapping({'bootstrap_resamples': 500}); "
        "assert 'crossfusion_core.evaluation.bootstrap' not in sys.modules; "
        "assert EvaluationSettings().bootstrap.n_resamples == 2000"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
