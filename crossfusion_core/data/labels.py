"""Discrete time bins: the classes a discrete-time survival model predicts hazards for.

The definition is the one of the original study (and the PORPOISE / Patch-GCN family): edges at the
``n_bins``-quantiles of survival time among patients whose death was observed, so each bin holds about
as many events; the outer edges are then stretched to the shortest and longest time of all patients
(minus / plus ``EDGE_MARGIN_MONTHS``) so that every patient, censored or not, falls inside. Bins are
half-open, ``[edge_i, edge_{i+1})``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crossfusion_core.errors import PipelineInputError

EDGE_MARGIN_MONTHS = 1e-6


def time_bin_edges(items: pd.DataFrame, n_bins: int = 4) -> np.ndarray:
    """``n_bins + 1`` increasing edges in months from a table with one row per training item.

    Items are patients (``data.clinical.patient_table``), or slides when training treats each slide as
    an item, as the original study does (a patient with two slides then counts twice). ``items`` needs
    ``survival_months`` and ``censorship`` (1 = censored). Raises :class:`PipelineInputError` when there
    are too few distinct event times to make ``n_bins`` bins.
    """
    times = items["survival_months"].to_numpy(dtype=float)
    event_times = times[items["censorship"].to_numpy() == 0]
    if event_times.size < n_bins:
        raise PipelineInputError(
            None,
            f"only {event_times.size} item(s) with an observed death, too few for {n_bins} time bins",
            "lower training.n_bins or use a larger cohort",
        )
    edges = np.quantile(event_times, np.linspace(0.0, 1.0, n_bins + 1))
    edges[0] = times.min() - EDGE_MARGIN_MONTHS
    edges[-1] = times.max() + EDGE_MARGIN_MONTHS
    if np.any(np.diff(edges) <= 0):
        raise PipelineInputError(
            None,
            f"the observed death times have tied quantiles {np.round(edges, 3).tolist()}, "
            f"so {n_bins} bins would not be distinct",
            "lower training.n_bins",
        )
    return edges


def label_bins(times: np.ndarray | pd.Series, edges: np.ndarray) -> np.ndarray:
    """Bin index (int64, 0 .. n_bins - 1) of each time; times beyond the outer edges join the end bins.

    Clipping matters only for patients outside the cohort the edges came from (e.g. the held-out fold
    when edges are computed on the training fold).
    """
    inner_edges = np.asarray(edges, dtype=float)[1:-1]
    return np.digitize(np.asarray(times, dtype=float), inner_edges, right=False).astype(np.int64)
