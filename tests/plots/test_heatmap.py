"""Heatmaps of real models from the registry on feature files with a planted region, over real SVS files.

The planted patches carry a feature direction the model responds to. That direction is found once per
scale by probing the model's own ``patch_scores`` on a separate random bag (any attention model prefers
some directions to others); the test then checks, through the feature files, that the highest
percentiles land on the planted region of the slide: for single-scale ABMIL at each of the three scales,
for CrossFusion at 5x and 20x (its 10x class-token map follows the bag position rather than the patch
content in an untrained model, so there it is only checked to carry information).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from crossfusion_core.features.feature_files import FeatureFile, read_feature_file, write_feature_file
from crossfusion_core.models.checkpoint import save_checkpoint
from crossfusion_core.models.registry import build_model
from crossfusion_core.plots.heatmap import (
    ScaleMap,
    heatmap_score_maps,
    paint_heatmaps,
    paint_held_out_slide,
    score_grid,
    slide_scale_maps,
)
from crossfusion_core.plots.settings import HeatmapSettings
from crossfusion_core.scales import MAGNIFICATIONS

DIM = 8
PATCH_SIZE_PX = 64
PLANT_AMPLITUDE = 4.0
CROSSFUSION = ("crossfusion", {"embed_dim": 16, "num_heads": 2, "dropout": 0.0, "attn_dropout": 0.0})
ABMIL = ("abmil", {"hidden_dim": 16, "attention_dim": 8, "dropout": 0.0, "scale": "source"})


def tiny_model(name: str, options: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, DIM, 4, options).eval()


CANDIDATES = [sign * np.eye(DIM)[j] for j in range(DIM) for sign in (1.0, -1.0)]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread; more only fight over the shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def plant(features: np.ndarray, mask: np.ndarray, direction: np.ndarray) -> np.ndarray:
    return features + PLANT_AMPLITUDE * np.outer(mask, direction).astype(np.float32)


def planted_rank(model, bag, planted, directions, magnification: int) -> float:
    """Mean percentile of the planted patches at one scale (-1 where the model scores no patch)."""
    files = as_files({m: plant(f, planted[m], directions[m]) for m, f in bag.items()})
    percentiles = heatmap_score_maps(model, files, chunk_size=50).get(magnification)
    return -1.0 if percentiles is None else float(percentiles[planted[magnification]].mean())


def preferred_directions(model: torch.nn.Module) -> dict[int, np.ndarray]:
    """Per scale, the signed unit axis whose planted patches rank highest in the model's scores.

    Chosen one scale at a time with the other scales already planted (the scales read each other
    through cross-attention), on a random probe bag unrelated to the slide under test.
    """
    rng = np.random.default_rng(1)
    bag = {m: rng.normal(size=(n, DIM)).astype(np.float32) for m, n in ((5, 16), (10, 64), (20, 256))}
    planted = {m: rng.random(len(f)) < 0.3 for m, f in bag.items()}
    directions = {m: np.zeros(DIM) for m in bag}
    for magnification in (10, 20, 5):
        directions[magnification] = max(
            CANDIDATES,
            key=lambda d, m=magnification: planted_rank(model, bag, planted, {**directions, m: d}, m),
        )
    return directions


def as_files(bags: dict[int, np.ndarray]) -> dict[int, FeatureFile]:
    return {m: FeatureFile(f, np.zeros((len(f), 2), np.int64), None, {}) for m, f in bags.items()}


def patch_grid(magnification: int, slide_size_level0: tuple[int, int], level0_magnification: float):
    """Level-0 corners of the patches of one scale tiling the whole slide, and their size."""
    size_level0 = PATCH_SIZE_PX * level0_magnification / magnification
    xs = np.arange(0, slide_size_level0[0] - size_level0 + 1, size_level0)
    ys = np.arange(0, slide_size_level0[1] - size_level0 + 1, size_level0)
    corners = np.array([(x, y) for y in ys for x in xs], dtype=np.int64)
    return corners, size_level0


def planted_mask(corners: np.ndarray, size_level0: float, slide_width_level0: int) -> np.ndarray:
    """Patches whose centre lies in the left third of the slide."""
    return corners[:, 0] + size_level0 / 2 < slide_width_level0 / 3


def write_slide_features(feature_dirs, slide_id, slide_size, directions, seed) -> dict[int, np.ndarray]:
    """Feature files of one slide at 20x level 0 with the planted region; returns the planted masks."""
    rng = np.random.default_rng(seed)
    masks = {}
    for magnification in MAGNIFICATIONS:
        corners, size_level0 = patch_grid(magnification, slide_size, 20.0)
        features = rng.normal(size=(len(corners), DIM)).astype(np.float32)
        masks[magnification] = planted_mask(corners, size_level0, slide_size[0])
        features = plant(features, masks[magnification], directions[magnification])
        attrs = {
            "patch_size": PATCH_SIZE_PX,
            "patch_size_level0": size_level0,
            "target_magnification": magnification,
            "level0_magnification": 20.0,
            "encoder": "test",
        }
        write_feature_file(feature_dirs[magnification] / f"{slide_id}.h5", features, corners, attrs)
    return masks


@pytest.mark.parametrize(
    ("name", "options", "planted_scales"),
    [
        (*CROSSFUSION, (5, 20)),
        ("abmil", {**ABMIL[1], "scale": "coarse"}, (5,)),
        ("abmil", {**ABMIL[1], "scale": "source"}, (10,)),
        ("abmil", {**ABMIL[1], "scale": "fine"}, (20,)),
    ],
)
def test_top_percentiles_fall_on_the_planted_region(tmp_path, name, options, planted_scales) -> None:
    model = tiny_model(name, options)
    feature_dirs = {m: tmp_path / f"x{m}" for m in MAGNIFICATIONS}
    masks = write_slide_features(feature_dirs, "SLIDE", (2048, 1536), preferred_directions(model), seed=2)
    files = {m: read_feature_file(feature_dirs[m] / "SLIDE.h5") for m in MAGNIFICATIONS}
    maps = heatmap_score_maps(model, files, chunk_size=37)
    assert sorted(maps) == (sorted(MAGNIFICATIONS) if name == "crossfusion" else list(planted_scales))
    for magnification, percentiles in maps.items():
        assert np.ptp(percentiles) > 50 and percentiles.max() == 100.0  # no constant map
        if magnification in planted_scales:
            planted = masks[magnification]
            top = np.argsort(-percentiles)[: planted.sum()]
            assert planted[top].mean() > planted.mean() + 0.3, (magnification, planted[top].mean())


@pytest.fixture
def fold(tmp_path):
    """Two held-out patients with feature files, and checkpoints of a multi- and a single-scale model."""
    feature_dirs = {m: tmp_path / "features" / f"x{m}" for m in MAGNIFICATIONS}
    no_plant = dict.fromkeys(MAGNIFICATIONS, np.zeros(DIM))
    for slide_id, seed in (("HIGH-S1", 2), ("LOW-S1", 3)):
        write_slide_features(feature_dirs, slide_id, (2048, 1536), no_plant, seed)
    checkpoints = {}
    for name, options in (CROSSFUSION, ABMIL):
        checkpoints[name] = tmp_path / name / "model.pt"
        model = tiny_model(name, options)
        save_checkpoint(checkpoints[name], model, name, options, DIM, 4, [0, 10, 20, 30, 99])
    predictions = tmp_path / "predictions.csv"
    pd.DataFrame(
        {
            "case_id": ["HIGH", "LOW"],
            "slide_ids": ["HIGH-S1.svs", "LOW-S1.svs"],
            "survival_months": [3.0, 40.0],
            "censorship": [0, 1],
            "label_bin": [0, 3],
            "risk": [-0.5, -3.2],
            "hazard_0": [0.6, 0.05],
            "fold": 0,
        }
    ).to_csv(predictions, index=False)
    return {"dirs": feature_dirs, "checkpoints": checkpoints, "predictions": predictions}


def test_an_ensemble_paints_the_mean_percentile_of_the_scales_every_model_scores(tmp_path) -> None:
    models = [tiny_model(*CROSSFUSION), tiny_model(*ABMIL)]  # ABMIL scores the 10x (source) scale only
    feature_dirs = {m: tmp_path / f"x{m}" for m in MAGNIFICATIONS}
    write_slide_features(feature_dirs, "SLIDE", (2048, 1536), dict.fromkeys(MAGNIFICATIONS, np.zeros(DIM)), 4)
    files = {m: read_feature_file(feature_dirs[m] / "SLIDE.h5") for m in MAGNIFICATIONS}
    (painted,) = slide_scale_maps(models, files, chunk_size=64)
    own = [heatmap_score_maps(model, files, chunk_size=64)[10] for model in models]
    assert painted.magnification == 10 and painted.percentile == pytest.approx((own[0] + own[1]) / 2)
    assert [scale.magnification for scale in slide_scale_maps(models[:1], files, 64)] == [20, 10, 5]
    assert slide_scale_maps([], files, 64) == []


def test_score_grid_puts_each_patch_in_its_cell() -> None:
    coords = np.array([[1000, 500], [1128, 500], [1000, 628], [1256, 756]])
    grid, origin = score_grid(ScaleMap(20, coords, 128.0, np.array([10.0, 20.0, 30.0, 40.0])))
    assert origin.tolist() == [1000, 500]
    assert grid.shape == (3, 3)
    assert grid[0, 0] == 10 and grid[0, 1] == 20 and grid[1, 0] == 30 and grid[2, 2] == 40
    assert np.isnan(grid).sum() == 5


@pytest.mark.parametrize(("name", "n_panels"), [("crossfusion", 4), ("abmil", 2)])
def test_paint_heatmaps_writes_the_extreme_slides(fold, tmp_path, svs_20x, name, n_panels):
    settings = HeatmapSettings.from_mapping({"slides": ["LOW-S1"], "chunk_size": 64})
    out_dir = tmp_path / f"heatmaps_{name}"
    written = paint_heatmaps(
        fold["checkpoints"][name],
        fold["predictions"],
        fold["dirs"],
        lambda slide_id: svs_20x,
        settings,
        out_dir,
    )
    assert sorted(written) == ["highest_risk", "lowest_risk"]
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(f"{k}.png" for k in written)
    with Image.open(written["highest_risk"]) as image:
        assert image.format == "PNG"
        ratio = image.size[0] / image.size[1]
    # one panel per painted scale plus the thumbnail: a single-scale model paints one scale only
    assert 0.6 < ratio / n_panels < 1.2, ratio


def test_a_configured_slide_is_painted_by_the_fold_that_held_it_out(fold, tmp_path, svs_20x):
    other_fold = tmp_path / "other_predictions.csv"
    pd.read_csv(fold["predictions"]).assign(case_id=["A", "B"], slide_ids=["A-S1.svs", "B-S1.svs"]).to_csv(
        other_fold, index=False
    )
    checkpoint = fold["checkpoints"]["abmil"]
    folds = [(checkpoint, other_fold), (checkpoint, fold["predictions"])]
    settings = HeatmapSettings.from_mapping({"chunk_size": 64})
    out_path = tmp_path / "LOW-S1.png"
    assert paint_held_out_slide(folds, "LOW-S1", svs_20x, fold["dirs"], settings, out_path) == 1
    with Image.open(out_path) as image:
        assert image.format == "PNG"
    with pytest.raises(ValueError, match="NOWHERE-S1 is held out in none of the folds"):
        paint_held_out_slide(folds[:1], "NOWHERE-S1", svs_20x, fold["dirs"], settings, out_path)
