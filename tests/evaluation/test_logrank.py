"""Our log-rank wrapper gives lifelines' p-values on the Rossi recidivism data lifelines ships."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_rossi
from lifelines.statistics import logrank_test, multivariate_logrank_test

from crossfusion_core.evaluation.logrank import logrank_p_value


def test_two_groups_match_lifelines_and_the_published_value() -> None:
    rossi = load_rossi()
    aid = rossi["fin"] == 1
    ours = logrank_p_value(rossi["week"], rossi["arrest"], np.where(aid, "aid", "no aid"))
    theirs = logrank_test(
        rossi.loc[aid, "week"],
        rossi.loc[~aid, "week"],
        event_observed_A=rossi.loc[aid, "arrest"],
        event_observed_B=rossi.loc[~aid, "arrest"],
    ).p_value
    assert ours == theirs
    assert ours == pytest.approx(0.05, abs=0.01)  # R's survdiff(week ~ fin): chisq 3.8, p = 0.05


def test_three_groups_match_the_multivariate_test() -> None:
    rossi = load_rossi()
    groups = pd.qcut(rossi["prio"].rank(method="first"), 3, labels=["low", "mid", "high"]).astype(str)
    ours = logrank_p_value(rossi["week"], rossi["arrest"], groups)
    assert ours == multivariate_logrank_test(rossi["week"], groups, rossi["arrest"]).p_value
    assert ours < 0.01  # prior convictions predict re-arrest


def test_one_group_is_refused() -> None:
    with pytest.raises(ValueError, match="two groups"):
        logrank_p_value(np.array([1.0, 2.0]), np.array([1, 0]), np.array(["a", "a"]))
