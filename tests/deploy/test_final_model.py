"""The final model: trained as a fold is, on every patient with a usable slide, holding nobody out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from data.feature_files import write_feature_cohort

from crossfusion_core.data.clinical import load_patients
from crossfusion_core.data.exclusions import COLUMNS
from crossfusion_core.deploy.final_model import FINAL_MODEL_FOLD, all_patients_split, train_final_model
from crossfusion_core.models.checkpoint import read_checkpoint_info
from crossfusion_core.settings import SettingsError
from crossfusion_core.training.settings import TrainingSettings

PROBE = {"n_components": 0, "penalty": 0.3}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("final")
    data = write_feature_cohort(root, n_patients=20, seed=5)
    excluded = root / "qc" / "excluded.csv"
    excluded.parent.mkdir()
    rows = [
        ("SYN-P0004", "SYN-P0004-S1", "no_tissue", "blank"),
        ("SYN-P0009", "SYN-P0009-S1", "no_tissue", "blank"),
    ]
    pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(excluded, index=False)
    return data, excluded


def test_every_patient_but_the_left_out_is_trained_on(cohort) -> None:
    data, excluded = cohort
    split = all_patients_split(data.survival_csv, excluded)
    assert split.val == ()
    assert split.train == tuple(
        c for c in load_patients(data.survival_csv)["case_id"] if c not in {"SYN-P0004", "SYN-P0009"}
    )


@pytest.mark.parametrize("extra", [{}, {"selection": "inner_validation"}])
def test_the_final_model_is_written_with_every_patients_risk_and_no_predictions(
    cohort, tmp_path: Path, extra: dict
) -> None:
    data, excluded = cohort
    settings = TrainingSettings.from_mapping({"models": ["linear_probe"], "final_model": True, **extra})
    train_final_model(
        settings,
        "linear_probe",
        PROBE,
        data.survival_csv,
        excluded,
        data.feature_dirs,
        tmp_path,
        backbone="toy",
        threads=1,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epochs.csv", "model.pt", "training_risks.csv"]
    risks = pd.read_csv(tmp_path / "training_risks.csv")
    assert len(risks) == 18 and set(risks["fold"]) == {FINAL_MODEL_FOLD}
    info = read_checkpoint_info(tmp_path / "model.pt")
    assert info.backbone == "toy" and info.training_settings == settings.fold_settings.model_dump(mode="json")


def test_a_final_model_cannot_select_on_a_held_out_fold() -> None:
    with pytest.raises(SettingsError, match="final_model needs a held-out-free protocol") as info:
        TrainingSettings.from_mapping({"final_model": True, "protocol": "original"})
    assert info.value.key == ("final_model",)
