"""How many cross-validation folds a cohort can have: one rule, one message, wherever it is checked.

The settings know only ``n_folds`` (the lower bound), the dry run knows the cohort's patients, the
splits job knows the patients left with a usable slide; all three ask :func:`check_fold_count`, so a
user reads the same bounds whichever of them finds the problem first.
"""

from __future__ import annotations

from crossfusion_core.errors import PipelineInputError

MIN_FOLDS = 2
"""Fewer is no cross-validation: one fold would train on nobody."""


def check_fold_count(n_folds: int, n_patients: int | None = None, patients: str = "patient(s)") -> None:
    """Raise unless ``MIN_FOLDS <= n_folds <= n_patients`` (each fold holds out one patient or more).

    ``n_patients`` None: the cohort is not known yet, only the lower bound is checked. ``patients``
    says which patients were counted (e.g. ``patient(s) with a usable slide``).
    """
    too_few_patients = n_patients is not None and n_patients < MIN_FOLDS
    too_many_folds = n_patients is not None and n_folds > n_patients
    if n_folds >= MIN_FOLDS and not too_few_patients and not too_many_folds:
        return
    bound = "the number of patients" if n_patients is None else str(n_patients)
    cohort = "" if n_patients is None else f"the cohort has {n_patients} {patients}; "
    raise PipelineInputError(
        None,
        f"n_folds={n_folds} is outside {MIN_FOLDS} .. {bound} ({cohort}cross-validation needs {MIN_FOLDS} "
        "folds or more, each holding out one patient or more)",
        "add patients to the cohort"
        if too_few_patients
        else f"set training.n_folds to a whole number from {MIN_FOLDS} to {bound}",
    )
