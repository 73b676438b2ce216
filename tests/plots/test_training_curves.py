"""The training-curves figure from the per-fold epoch logs training writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.plots.training_curves import training_curves_plot


def write_epochs(tmp_path, fold: int, n_epochs: int):
    epochs = np.arange(n_epochs)
    frame = pd.DataFrame(
        {
            "epoch": epochs,
            "train_loss": 1.0 / (1 + epochs),
            "val_loss": 1.2 / (1 + epochs) + 0.01 * epochs,
            "val_cindex": 0.5 + 0.02 * epochs,
            "lr": 1e-4,
        }
    )
    path = tmp_path / f"fold_{fold}" / "epochs.csv"
    path.parent.mkdir(parents=True)
    frame.to_csv(path, index=False)
    return path


def test_one_png_for_all_folds(tmp_path) -> None:
    logs = [write_epochs(tmp_path, fold, n_epochs) for fold, n_epochs in enumerate((5, 3, 8))]
    out = tmp_path / "training_curves.png"
    training_curves_plot(logs, "abmil / uni", out)
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size[0] > image.size[1] > 200
        pixels = np.asarray(image.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10  # lines were drawn, not a blank canvas


def test_a_log_without_cindex_names_the_file(tmp_path) -> None:
    path = write_epochs(tmp_path, 0, 3)
    pd.read_csv(path).drop(columns="val_cindex").to_csv(path, index=False)
    with pytest.raises(PipelineInputError, match=r"fold_0/epochs\.csv.*val_cindex"):
        training_curves_plot([path], "abmil / uni", tmp_path / "curves.png")


def test_a_model_fitted_in_closed_form_draws_no_line(tmp_path) -> None:
    """The linear probe's folds log no epoch: the figure is still made, with the other folds' lines."""
    trained = write_epochs(tmp_path, 0, 4)
    fitted = tmp_path / "fold_1" / "epochs.csv"
    fitted.parent.mkdir()
    pd.read_csv(trained).iloc[:0].to_csv(fitted, index=False)
    out = tmp_path / "curves.png"
    training_curves_plot([trained, fitted], "linear_probe / uni", out)
    with Image.open(out) as image:
        assert image.format == "PNG"
