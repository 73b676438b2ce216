"""Attention heatmaps of every slide of a deployment target, painted by the deployed models.

A lab applying trained models to its own slides wants to see where they look on each of them, not only
on the extremes, so every slide gets a map. Each slide is scored on its own bag by every deployed
model and shows the mean of their per-patch percentiles (:func:`crossfusion_core.plots.heatmap.
slide_scale_maps`): for an ensemble, where its fold models agree to look. A slide without patches at
every scale is shown bare, its title saying why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from crossfusion_core.data.bags import slide_features
from crossfusion_core.deploy.predict import UNSCORED
from crossfusion_core.deploy.predictions_file import read_deployment_predictions
from crossfusion_core.models.checkpoint import load_checkpoint
from crossfusion_core.plots.heatmap import paint_slide
from crossfusion_core.plots.settings import HeatmapSettings


def paint_deployment_heatmaps(
    checkpoints: Sequence[str | Path],
    predictions_csv: str | Path,
    feature_dirs: Mapping[int, Path],
    slide_paths: Mapping[str, str | Path],
    settings: HeatmapSettings,
    out_paths: Mapping[str, str | Path],
) -> None:
    """Write the heatmap of each slide of ``out_paths`` (slide id -> figure path)."""
    loaded = [load_checkpoint(path) for path in checkpoints]
    models, backbone_dim = [model for model, _ in loaded], loaded[0][1].backbone_dim
    table = read_deployment_predictions(predictions_csv, with_outcomes=False)
    patient_of = {slide: row for row in table.itertuples(index=False) for slide in row.slide_ids.split(";")}
    weights = table["weights"].iloc[0]
    for slide_id, out_path in out_paths.items():
        patient = patient_of[slide_id]
        slide, _ = slide_features(patient.case_id, slide_id, feature_dirs, backbone_dim)
        usable = min(slide.n_patches) > 0
        title = (
            f"{patient.case_id}, {slide_id}: risk {patient.risk:.3f}, {weights}\n"
            f"colour: mean attention percentile over the {len(models)} model(s)"
            if usable
            else f"{patient.case_id}, {slide_id}: not scored, {UNSCORED}"
        )
        paint_slide(
            models if usable else [],
            slide_id,
            Path(slide_paths[slide_id]),
            feature_dirs,
            backbone_dim,
            title,
            settings,
            Path(out_path),
        )
