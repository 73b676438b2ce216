"""training.precision: bf16 autocast forced on for the CPU runs the GPU's code path through a whole fold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from crossfusion_core.devices import CudaState
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.models.checkpoint import load_checkpoint
from crossfusion_core.training.fold import train_fold
from crossfusion_core.training.loop import training_compute
from crossfusion_core.training.settings import TrainingSettings

H100 = CudaState(1, "2.5.1", "12.4", True, "NVIDIA H100", (9, 0), ("sm_90",))
NO_GPU = CudaState(gpus_present=0, torch_version="2.5.1", built_for_cuda="12.4", available=False)
SETTINGS = {"steps": None, "epochs": 2, "grad_accumulation": 4, "lr": 3e-3, "eta_min": 1e-5}
OPTIONS = {"embed_dim": 16, "num_heads": 2, "dropout": 0.1, "attn_dropout": 0.1}


def _train(cohort, out_dir: Path, precision: str) -> pd.DataFrame:
    data, split = cohort
    settings = TrainingSettings.from_mapping({**SETTINGS, "precision": precision})
    train_fold(
        settings, "crossfusion", OPTIONS, data.survival_csv, split, data.feature_dirs, out_dir, threads=1
    )
    return pd.read_csv(out_dir / "predictions.csv")


def test_bf16_fold_trains_and_differs_from_fp32(cohort, tmp_path: Path) -> None:
    bf16 = _train(cohort, tmp_path / "bf16", "bf16")
    fp32 = _train(cohort, tmp_path / "fp32", "fp32")
    hazards = [f"hazard_{k}" for k in range(4)]
    assert np.isfinite(bf16[["risk", *hazards]].to_numpy()).all()
    assert bf16["risk"].nunique() == len(bf16), "float32 risks from bf16 logits should not tie"
    assert not np.allclose(bf16["risk"], fp32["risk"], rtol=0, atol=1e-7), "autocast had no effect"
    np.testing.assert_allclose(bf16["risk"], fp32["risk"], atol=0.05)  # same model, rounding apart
    bf16_model, _ = load_checkpoint(tmp_path / "bf16" / "model.pt")
    fp32_model, _ = load_checkpoint(tmp_path / "fp32" / "model.pt")
    assert any(
        not torch.equal(a, b)
        for a, b in zip(bf16_model.state_dict().values(), fp32_model.state_dict().values(), strict=True)
    ), "training ran without autocast"


@pytest.mark.parametrize(
    ("state", "precision", "device", "dtype"),
    [
        (NO_GPU, "auto", "cpu", None),
        (H100, "auto", "cuda", torch.bfloat16),
        (NO_GPU, "bf16", "cpu", torch.bfloat16),
        (H100, "fp32", "cuda", None),
    ],
)
def test_auto_precision_is_bf16_on_cuda_only(
    state: CudaState, precision: str, device: str, dtype: torch.dtype | None
) -> None:
    compute = training_compute(TrainingSettings.from_mapping({"precision": precision}), state)
    assert (compute.device.type, compute.autocast_dtype) == (device, dtype)


def test_unknown_precision_is_a_config_error() -> None:
    with pytest.raises(PipelineInputError, match=r"`training.precision`: 'fp16' is not allowed"):
        TrainingSettings.from_mapping({"precision": "fp16"})
