"""Loss and validation C-index per epoch for every fold of one model x backbone.

One figure per model x backbone shows at a glance whether training converged, over-fitted (validation
loss rising while training loss falls) or stopped early, and how much the folds disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.plots.figures import save_figure

EPOCH_COLUMNS = ("epoch", "train_loss", "val_loss", "val_cindex")


def read_epochs(path: str | Path) -> pd.DataFrame:
    """One fold's per-epoch log, checked for the columns the figure draws. A log without rows is a model
    fitted in closed form (the linear probe): it ran no epoch, and its fold draws no line."""
    path = Path(path)
    if not path.is_file():
        raise PipelineInputError(path, "epoch log does not exist", "run the training of this fold")
    frame = pd.read_csv(path)
    missing = [c for c in EPOCH_COLUMNS if c not in frame.columns]
    if missing:
        raise PipelineInputError(path, f"epoch log lacks the column(s) {missing}", "rerun the training")
    return frame


def training_curves_plot(epochs_csvs: Sequence[str | Path], title: str, out_path: str | Path) -> None:
    """Two panels: training (solid) and validation (dashed) loss, and validation C-index, per fold.

    Folds are named after the folder of their log (``fold_k``), so the legend matches the results tree.
    """
    figure = Figure(figsize=(11.0, 4.2))
    loss_ax, cindex_ax = figure.subplots(1, 2)
    for path in map(Path, epochs_csvs):
        epochs = read_epochs(path)
        line = loss_ax.plot(epochs["epoch"], epochs["train_loss"], label=f"{path.parent.name} train")[0]
        loss_ax.plot(epochs["epoch"], epochs["val_loss"], linestyle="--", color=line.get_color())
        cindex_ax.plot(epochs["epoch"], epochs["val_cindex"], color=line.get_color(), label=path.parent.name)
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss (solid: training, dashed: validation)")
    cindex_ax.set(xlabel="epoch", ylabel="C-index", title="validation C-index")
    cindex_ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    cindex_ax.legend(fontsize="small")
    figure.suptitle(title)
    save_figure(figure, [out_path])
