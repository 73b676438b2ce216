"""The target's config: the run's config with the target's file on top, its own slides never inherited."""

from __future__ import annotations

from crossfusion_core.deploy.target_config import target_config

RUN = {
    "cohort": "a",
    "dataset": {"kind": "tcga", "manifest": "m.csv", "data_dir": "data/a"},
    "synthetic": {"seed": 7, "n_patients": 40},
    "slides": {"exclude": ["A-1"], "mpp_override": {"A-2": 0.5}, "batches": 4},
    "segmentation": {"mask_mpp": 8.0, "method": "otsu"},
    "features": {"backbones": ["uni"], "weights": {"uni": "w.bin"}},
    "heatmaps": {"slides": ["A-3"], "chunk_size": 512},
    "deploy": {"target": "b.yaml"},
}


def test_the_target_inherits_processing_and_overrides_what_its_file_sets() -> None:
    merged = target_config(RUN, {"cohort": "b", "segmentation": {"mask_mpp": 4.0}})
    assert merged["cohort"] == "b"
    assert merged["segmentation"] == {"mask_mpp": 4.0, "method": "otsu"}
    assert merged["features"] == RUN["features"]
    assert "deploy" not in merged


def test_the_trained_cohorts_slide_ids_are_never_the_targets() -> None:
    merged = target_config(RUN, {"cohort": "b", "heatmaps": {"colormap": "viridis"}})
    assert merged["slides"] == {}
    assert merged["heatmaps"] == {"slides": [], "chunk_size": 512, "colormap": "viridis"}
    assert target_config(RUN, {"cohort": "b", "slides": {"exclude": ["B-9"]}})["slides"] == {
        "exclude": ["B-9"]
    }


def test_a_source_is_replaced_whole_and_inherited_only_when_the_file_has_none() -> None:
    local = {"kind": "local", "slide_sheet": "b/slides.csv"}
    assert target_config(RUN, {"cohort": "b", "dataset": local})["dataset"] == local
    synthetic = target_config(RUN, {"cohort": "b", "synthetic": {"seed": 8}})
    assert synthetic["dataset"] == RUN["dataset"]
    assert synthetic["synthetic"] == {"seed": 8, "n_patients": 40}


def test_the_run_config_is_left_as_it_was() -> None:
    before = repr(RUN)
    merged = target_config(RUN, {"cohort": "b", "features": {"weights": {"uni": "other.bin"}}})
    merged["segmentation"]["mask_mpp"] = 1.0
    assert repr(RUN) == before
