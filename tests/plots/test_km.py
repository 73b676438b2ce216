"""Kaplan-Meier figures of out-of-fold risk groups, written as real PNG and PDF files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evaluation.prediction_files import synthetic_cohort, write_fold_predictions
from PIL import Image

from crossfusion_core.evaluation.logrank import logrank_p_value
from crossfusion_core.plots.km import km_plot, risk_groups
from crossfusion_core.plots.settings import KmSettings


@pytest.fixture
def prediction_csvs(tmp_path) -> list:
    csvs = []
    for fold in range(2):
        time, censorship, log_hazard = synthetic_cohort(60, seed=10 + fold)
        csvs.append(write_fold_predictions(tmp_path, fold, time, censorship, log_hazard))
    return csvs


@pytest.mark.parametrize("groups", ["median", "tertiles"])
def test_km_writes_valid_png_and_pdf_with_the_logrank_p(tmp_path, prediction_csvs, groups) -> None:
    settings = KmSettings.from_mapping({"groups": groups})
    out_paths = [tmp_path / "km.png", tmp_path / "km.pdf"]
    p_value = km_plot(prediction_csvs, settings, out_paths)
    with Image.open(out_paths[0]) as image:
        image.verify()
        assert image.format == "PNG" and min(image.size) > 300
    assert out_paths[1].read_bytes().startswith(b"%PDF")
    pooled = pd.concat([pd.read_csv(p) for p in prediction_csvs])
    expected_groups = risk_groups(pooled["risk"].to_numpy(), settings.n_groups)
    expected = logrank_p_value(pooled["survival_months"], 1 - pooled["censorship"], expected_groups)
    assert p_value == expected
    assert p_value < 0.01  # the risk is the true log-hazard, so the groups separate
    assert not list(tmp_path.glob(".*partial*"))


def test_risk_groups_are_equal_sized_even_with_ties() -> None:
    risk = np.array([0.0] * 6 + [1.0, 2.0, 3.0])
    groups = risk_groups(risk, 3)
    assert sorted(pd.Series(groups).value_counts().tolist()) == [3, 3, 3]
    assert groups[-1] == "high risk" and groups[0] == "low risk"


def test_unknown_grouping_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="groups='quartiles'"):
        KmSettings.from_mapping({"groups": "quartiles"})
