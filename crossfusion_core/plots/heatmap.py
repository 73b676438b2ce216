"""Heatmaps at 20x, 10x and 5x: where on the slide the held-out model looked (its attention, the
default) or where its predicted risk comes from (``heatmaps.score: attribution``, gradient x input).

Scores are shown as percentiles within the slide and scale, because raw attention values are not
comparable between scales (a softmax mass, a logit) or between slides of different sizes; a percentile
map answers the question a pathologist asks: which regions rank highest for this model on this slide.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from PIL import Image
from scipy.stats import percentileofscore
from torch import nn

from crossfusion_core.data.bags import feature_path
from crossfusion_core.errors import FeatureMismatchError, PipelineInputError
from crossfusion_core.evaluation.predictions import first_slide, read_predictions
from crossfusion_core.features.feature_files import FeatureFile, read_feature_file
from crossfusion_core.models.attribution import risk_attribution
from crossfusion_core.models.checkpoint import load_checkpoint
from crossfusion_core.plots.figures import save_figure
from crossfusion_core.plots.settings import HeatmapSettings
from crossfusion_core.scales import MAGNIFICATIONS, SCALES, mpp_for_magnification, scale_named
from crossfusion_core.wsi.slide import open_slide


@dataclass(frozen=True)
class ScaleMap:
    """One scale's percentile per patch, where its patches sit, and how large they are (level 0)."""

    magnification: int
    coords_level0: np.ndarray
    patch_size_level0: float
    percentile: np.ndarray


def score_percentiles(scores: np.ndarray) -> np.ndarray:
    """Percentile rank (0-100] of every score among the slide's scores at that scale (ties averaged)."""
    return np.asarray(percentileofscore(scores, scores, kind="rank"), dtype=float)


def heatmap_score_maps(
    model: nn.Module, features: Mapping[int, FeatureFile], chunk_size: int, score: str = "attention"
) -> dict[int, np.ndarray]:
    """Per magnification, the percentile of each patch's score, in the file's patch order: the model's
    own ``patch_scores`` (attention) or its signed risk attribution (``models.attribution``).

    Scales the model does not score (single-scale models return None there) are left out, so the
    caller paints only what the model actually used.
    """
    bags = [torch.from_numpy(features[scale.magnification].features) for scale in SCALES]
    if score == "attribution":
        scores = risk_attribution(model, *bags)
    else:
        with torch.no_grad():
            scores = model.patch_scores(*bags, chunk_size=chunk_size)
    return {
        scale.magnification: score_percentiles(scores[scale.group].float().cpu().numpy())
        for scale in SCALES
        if scores.get(scale.group) is not None
    }


def read_slide_features(
    feature_dirs: Mapping[int, Path], slide_id: str, backbone_dim: int
) -> dict[int, FeatureFile]:
    """The slide's three feature files, checked against the model's input dimension."""
    files = {m: read_feature_file(feature_path(feature_dirs, m, slide_id)) for m in MAGNIFICATIONS}
    for magnification, loaded in files.items():
        if loaded.features.shape[1] != backbone_dim:
            raise FeatureMismatchError(
                feature_path(feature_dirs, magnification, slide_id),
                f"features have dimension {loaded.features.shape[1]}, the model expects {backbone_dim}",
                "paint with the checkpoint trained on this backbone",
            )
    return files


def slide_scale_maps(
    models: Sequence[nn.Module],
    features: Mapping[int, FeatureFile],
    chunk_size: int,
    score: str = "attention",
) -> list[ScaleMap]:
    """The painted scales of one slide, finest first: each patch's percentile, averaged over ``models``.

    One model paints its own percentiles; an ensemble (a deployment's fold models) paints their mean,
    a percentile being comparable between models where raw scores are not. Only the scales every model
    scores are painted; no model paints none.
    """
    per_model = [heatmap_score_maps(model, features, chunk_size, score) for model in models]
    painted = set.intersection(*(set(percentiles) for percentiles in per_model)) if per_model else set()
    return [
        ScaleMap(
            magnification=m,
            coords_level0=features[m].coords_level0,
            patch_size_level0=float(features[m].attrs["patch_size_level0"]),
            percentile=np.mean([percentiles[m] for percentiles in per_model], axis=0),
        )
        for m in reversed(MAGNIFICATIONS)
        if m in painted
    ]


def score_grid(scale: ScaleMap) -> tuple[np.ndarray, np.ndarray]:
    """The percentiles on the patch grid (NaN where there is no patch) and the grid origin (level 0).

    Patches of one scale tile a regular grid of ``patch_size_level0``, so grid cell = (coords - origin)
    / patch size; drawing the grid with an extent then places every patch where it was cut.
    """
    origin = scale.coords_level0.min(axis=0)
    cells = np.rint((scale.coords_level0 - origin) / scale.patch_size_level0).astype(int)
    grid = np.full((cells[:, 1].max() + 1, cells[:, 0].max() + 1), np.nan)
    grid[cells[:, 1], cells[:, 0]] = scale.percentile
    return grid, origin


def slide_thumbnail(
    slide_path: Path, level0_magnification: float, thumbnail_mpp: float
) -> tuple[Image.Image, tuple[int, int]]:
    """The slide at about ``thumbnail_mpp`` microns per pixel, and its level-0 size.

    The level-0 scale comes from the feature files, so a configured mpp override used at patching
    time carries over here.
    """
    slide = open_slide(slide_path)
    try:
        downsample = thumbnail_mpp / mpp_for_magnification(level0_magnification)
        width, height = slide.dimensions
        size = (max(1, round(width / downsample)), max(1, round(height / downsample)))
        return slide.get_thumbnail(size).convert("RGB"), (int(width), int(height))
    finally:
        slide.close()


def heatmap_figure(
    thumbnail: Image.Image,
    slide_size_level0: tuple[int, int],
    scales: list[ScaleMap],
    title: str,
    settings: HeatmapSettings,
) -> Figure:
    """The raw thumbnail, then one panel per scale with the percentiles over it, one shared colour bar."""
    per_px = thumbnail.width / slide_size_level0[0]
    aspect = thumbnail.height / thumbnail.width
    figure = Figure(figsize=(4.0 * (1 + len(scales)) + 1.0, 4.0 * aspect + 1.0))
    axes = np.atleast_1d(figure.subplots(1, 1 + len(scales)))
    axes[0].imshow(thumbnail)
    axes[0].set_title("slide")
    image = None
    for ax, scale in zip(axes[1:], scales, strict=True):
        grid, origin = score_grid(scale)
        left, top = origin * per_px
        right = left + grid.shape[1] * scale.patch_size_level0 * per_px
        bottom = top + grid.shape[0] * scale.patch_size_level0 * per_px
        ax.imshow(thumbnail)
        image = ax.imshow(
            grid,
            cmap=settings.colormap,
            vmin=0.0,
            vmax=100.0,
            alpha=settings.overlay_alpha,
            extent=(left, right, bottom, top),
            interpolation="nearest",
        )
        ax.set_xlim(0, thumbnail.width)
        ax.set_ylim(thumbnail.height, 0)
        ax.set_title(f"{scale.magnification}x attention ({len(scale.percentile)} patches)")
    for ax in axes:
        ax.set_axis_off()
    if image is not None:
        figure.colorbar(image, ax=list(axes), fraction=0.02, pad=0.01, label="attention percentile")
    figure.suptitle(title)
    return figure


def paint_slide(
    models: Sequence[nn.Module],
    slide_id: str,
    slide_path: Path,
    feature_dirs: Mapping[int, Path],
    backbone_dim: int,
    title: str,
    settings: HeatmapSettings,
    out_path: Path,
) -> list[int]:
    """Score one slide with ``models`` (see :func:`slide_scale_maps`) and write its heatmap figure;
    return the magnifications painted."""
    features = read_slide_features(feature_dirs, slide_id, backbone_dim)
    scales = slide_scale_maps(models, features, settings.chunk_size, settings.score)
    level0_magnification = float(features[scale_named("source").magnification].attrs["level0_magnification"])
    thumbnail, size_level0 = slide_thumbnail(slide_path, level0_magnification, settings.thumbnail_mpp)
    save_figure(heatmap_figure(thumbnail, size_level0, scales, title, settings), [out_path])
    return [scale.magnification for scale in scales]


def held_out_title(name: str, slide_id: str, held_out: pd.Series) -> str:
    """A heatmap's title: what it shows, the patient, the slide and its held-out risk."""
    return f"{name.replace('_', ' ')}: {held_out['case_id']}, {slide_id} (risk {held_out['risk']:.3f})"


def held_out_rows(predictions: pd.DataFrame) -> dict[str, pd.Series]:
    """Slide id -> the prediction row of its patient, for every slide held out in this fold."""
    return {
        first_slide(slide): row for _, row in predictions.iterrows() for slide in row["slide_ids"].split(";")
    }


def heatmap_targets(predictions: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Output name -> (slide id, figure title) for the fold's highest- and lowest-risk held-out patients,
    each shown through its first slide."""
    held_out = held_out_rows(predictions)
    chosen = {
        "highest_risk": first_slide(predictions.loc[predictions["risk"].idxmax(), "slide_ids"]),
        "lowest_risk": first_slide(predictions.loc[predictions["risk"].idxmin(), "slide_ids"]),
    }
    return {name: (slide, held_out_title(name, slide, held_out[slide])) for name, slide in chosen.items()}


def paint_heatmaps(
    checkpoint: str | Path,
    prediction_csv: str | Path,
    feature_dirs: Mapping[int, Path],
    slide_paths: Mapping[str, Path] | Callable[[str], Path],
    settings: HeatmapSettings,
    out_dir: str | Path,
) -> dict[str, Path]:
    """Paint the fold's heatmaps into ``out_dir``: ``highest_risk.png`` and ``lowest_risk.png``.

    ``feature_dirs`` maps 5/10/20 to the folders of per-slide feature files; ``slide_paths`` maps a
    slide id (no ``.svs``) to its file. Each slide is scored on its own bag, even for a patient with
    several slides, so the map shows that slide's patches only. Returns output name -> written path.
    """
    model, meta = load_checkpoint(checkpoint)
    predictions = read_predictions(prediction_csv)
    lookup = slide_paths.__getitem__ if isinstance(slide_paths, Mapping) else slide_paths
    written = {}
    for name, (slide_id, title) in heatmap_targets(predictions).items():
        out_path = Path(out_dir) / f"{name}.png"
        paint_slide(
            [model],
            slide_id,
            Path(lookup(slide_id)),
            feature_dirs,
            meta.backbone_dim,
            title,
            settings,
            out_path,
        )
        written[name] = out_path
    return written


def paint_held_out_slide(
    folds: Sequence[tuple[str | Path, str | Path]],
    slide_id: str,
    slide_path: Path,
    feature_dirs: Mapping[int, Path],
    settings: HeatmapSettings,
    out_path: Path,
) -> int:
    """Paint ``slide_id`` (a `heatmaps.slides` entry) with the model of the fold that held its patient out,
    so the map comes from a model that never trained on it; return that fold's index.

    ``folds`` are (checkpoint, predictions.csv) of the folds of one repeat: which fold holds a patient out
    is only known once the splits are made, so the job reads it from the predictions.
    """
    for index, (checkpoint, prediction_csv) in enumerate(folds):
        held_out = held_out_rows(read_predictions(prediction_csv))
        if slide_id in held_out:
            model, meta = load_checkpoint(checkpoint)
            title = held_out_title(f"fold {index}", slide_id, held_out[slide_id])
            paint_slide(
                [model], slide_id, slide_path, feature_dirs, meta.backbone_dim, title, settings, out_path
            )
            return index
    raise PipelineInputError(
        None,
        f"slide {slide_id} is held out in none of the folds {[str(p) for _, p in folds]}",
        "name in heatmaps.slides only slides of patients in the folds (see qc/excluded.csv)",
    )
