"""Our wrappers give exactly what scikit-survival gives, on a public data set the package ships."""

from __future__ import annotations

import numpy as np
import pytest
from sksurv.datasets import load_whas500
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.metrics import (
    concordance_index_censored,
    concordance_index_ipcw,
    cumulative_dynamic_auc,
    integrated_brier_score,
)

from crossfusion_core.evaluation.survival_metrics import (
    harrell_cindex,
    integrated_brier,
    survival_array,
    time_dependent_auc,
    uno_cindex,
)


@pytest.fixture(scope="module")
def whas500_cox() -> dict:
    """A Cox model fitted on half of WHAS500 (Worcester Heart Attack Study) and applied to the rest."""
    features, outcome = load_whas500()
    numeric = features.select_dtypes("number").to_numpy(float)
    categorical = features.select_dtypes(exclude="number").apply(lambda c: c.astype(str) == "1")
    design = np.column_stack([numeric, categorical.to_numpy(float)])
    design = (design - design.mean(0)) / design.std(0)
    order = np.random.default_rng(0).permutation(len(outcome))
    train, test = order[:250], order[250:]
    test = test[outcome["lenfol"][test] < outcome["lenfol"][train].max()]  # IPCW needs train coverage
    model = CoxPHSurvivalAnalysis(alpha=0.1).fit(design[train], outcome[train])
    times = np.array([180.0, 365.0, 730.0, 1095.0])
    survival = np.vstack([fn(times) for fn in model.predict_survival_function(design[test])])
    return {
        "train": outcome[train],
        "test": outcome[test],
        "risk": model.predict(design[test]),
        "times": times,
        "survival": survival,
    }


def test_harrell_matches_sksurv_on_whas500(whas500_cox: dict) -> None:
    test, risk = whas500_cox["test"], whas500_cox["risk"]
    ours = harrell_cindex(test["fstat"].astype(int), test["lenfol"], risk, tied_tol=1e-8)
    theirs = concordance_index_censored(test["fstat"], test["lenfol"], risk, tied_tol=1e-8)[0]
    assert ours == theirs
    assert 0.7 < ours < 0.85  # published Cox models on WHAS500 reach C around 0.75-0.8


def test_uno_matches_sksurv_on_whas500(whas500_cox: dict) -> None:
    train, test, risk = whas500_cox["train"], whas500_cox["test"], whas500_cox["risk"]
    tau = 1095.0
    ours = uno_cindex(train, test, risk, tau, tied_tol=1e-8)
    assert ours == concordance_index_ipcw(train, test, risk, tau=tau, tied_tol=1e-8)[0]
    assert 0.65 < ours < 0.9


def test_auc_and_brier_match_sksurv_on_whas500(whas500_cox: dict) -> None:
    train, test, times = whas500_cox["train"], whas500_cox["test"], whas500_cox["times"]
    aucs, mean_auc = time_dependent_auc(train, test, whas500_cox["risk"], times)
    expected_aucs, expected_mean = cumulative_dynamic_auc(train, test, whas500_cox["risk"], times)
    np.testing.assert_array_equal(aucs, expected_aucs)
    assert mean_auc == expected_mean
    assert np.all((aucs > 0.7) & (aucs < 0.95))
    ibs = integrated_brier(train, test, whas500_cox["survival"], times)
    assert ibs == integrated_brier_score(train, test, whas500_cox["survival"], times)
    assert 0.05 < ibs < 0.25  # better than the 0.25 of a coin flip


def test_survival_array_reads_events_as_booleans() -> None:
    outcome = survival_array(np.array([1, 0, 1]), np.array([3.0, 5.0, 1.5]))
    assert outcome["event"].tolist() == [True, False, True]
    assert outcome["time"].tolist() == [3.0, 5.0, 1.5]
