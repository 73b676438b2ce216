"""Time bins on the shared TCGA tables follow the definition: quantiles of uncensored times, stretched."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crossfusion_core.data.clinical import load_patients
from crossfusion_core.data.labels import EDGE_MARGIN_MONTHS, label_bins, time_bin_edges
from crossfusion_core.errors import PipelineInputError
from data.test_clinical import SHARED_TABLES


@pytest.mark.parametrize("path", SHARED_TABLES, ids=lambda p: p.stem)
def test_shared_tables_bins_match_definition(path) -> None:
    patients = load_patients(path)
    edges = time_bin_edges(patients, n_bins=4)
    times = patients["survival_months"].to_numpy()
    dead = patients["censorship"].to_numpy() == 0
    assert edges[0] == pytest.approx(times.min() - EDGE_MARGIN_MONTHS)
    assert edges[-1] == pytest.approx(times.max() + EDGE_MARGIN_MONTHS)
    bins = label_bins(times, edges)
    assert bins.min() == 0 and bins.max() == 3
    for k in range(4):
        inside = times[bins == k]
        assert np.all(inside >= edges[k]) and np.all(inside < edges[k + 1])
    # inner edges are the quartiles of the uncensored times, as pandas' quantile cut (the original's) has them
    _, pandas_edges = pd.qcut(times[dead], 4, retbins=True)
    np.testing.assert_allclose(edges[1:-1], pandas_edges[1:-1])


def test_times_outside_edges_join_end_bins() -> None:
    edges = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(label_bins([0.5, 1.0, 1.99, 2.0, 3.5, 9.0], edges), [0, 0, 0, 1, 2, 2])


def test_too_few_deaths_is_a_clear_error() -> None:
    patients = pd.DataFrame(
        {"case_id": ["a", "b", "c"], "survival_months": [1.0, 2.0, 3.0], "censorship": [0, 1, 1]}
    )
    with pytest.raises(PipelineInputError, match="observed death"):
        time_bin_edges(patients, n_bins=4)
