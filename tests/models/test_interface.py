"""The one model interface: what makes a class a SurvivalModel, and a ClosedFormModel on top."""

from __future__ import annotations

from crossfusion_core.models.interface import ClosedFormModel, SurvivalModel


class Scorer:
    def __call__(self, x5, x10, x20):
        return None


class PatchScorer(Scorer):
    def patch_scores(self, x5, x10, x20, chunk_size=1024):
        return {"x5": None, "x10": None, "x20": None}


class FittedPatchScorer(PatchScorer):
    def fit(self, items, bin_edges, alpha):
        return None


def test_a_model_needs_outputs_and_patch_scores() -> None:
    assert not isinstance(Scorer(), SurvivalModel)
    assert isinstance(PatchScorer(), SurvivalModel) and not isinstance(PatchScorer(), ClosedFormModel)


def test_a_fit_makes_a_closed_form_model() -> None:
    assert isinstance(FittedPatchScorer(), ClosedFormModel)
    assert issubclass(FittedPatchScorer, ClosedFormModel) and not issubclass(PatchScorer, ClosedFormModel)
