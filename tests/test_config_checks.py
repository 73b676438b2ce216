"""Config mistakes that only a job would find are caught while the DAG is built, naming their file.

Each case is a real config layering: the repository's config/config.yaml, then overlay files as
`--configfile` would add them, merged by Snakemake's own `update_config`.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from local.cohort_files import write_local_cohort, write_table
from reference_data import REPO
from snakemake.utils import update_config

from crossfusion_core.config_checks import RunConfig, checked_run_config
from crossfusion_core.config_origins import ConfigOrigins
from crossfusion_core.errors import PipelineInputError

MAIN_CONFIG = REPO / "config" / "config.yaml"
TINY = {
    "synthetic": {"n_patients": 8, "second_slide_fraction": 0.0},
    "training": {"models": ["abmil"], "n_folds": 2, "n_bins": 2},
}
"""Eight patients, as few as a run can train on: two folds of four, two time bins, no linear probe."""


def checked(workdir: Path, *overlays: dict[str, Any], command_line: dict | None = None) -> RunConfig:
    """The run config of main config + ``overlays`` (written as overlay_0.yaml, ...) in ``workdir``."""
    paths = []
    for index, overlay in enumerate(overlays):
        paths.append(workdir / f"overlay_{index}.yaml")
        paths[-1].write_text(yaml.safe_dump(overlay))
    origins = ConfigOrigins.from_sources(MAIN_CONFIG, paths, command_line)
    config: dict[str, Any] = {}
    for layer in origins.layers:
        update_config(config, layer.values)
    return checked_run_config(config, origins, "results/{cohort}/slides")


def refused(workdir: Path, *overlays: dict[str, Any]) -> PipelineInputError:
    with pytest.raises(PipelineInputError) as info:
        checked(workdir, *overlays)
    return info.value


@pytest.fixture(autouse=True)
def _in_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_the_default_config_passes_with_every_slide_of_the_plan(tmp_path: Path) -> None:
    run = checked(tmp_path)
    assert run.dataset_kind == "synthetic" and len(run.slide_ids) > 40
    assert run.slide_file(run.slide_ids[0]) == f"results/synthetic/slides/{run.slide_ids[0]}.svs"


@pytest.mark.parametrize(
    ("overlay", "key", "problem", "fix"),
    [
        (
            {"training": {"models": ["abmil", "crossfusoin"]}},
            "training.models[1]",
            "'crossfusoin' is not a model",
            "did you mean 'crossfusion'?",
        ),
        (
            {"features": {"backbones": ["resnet51"]}},
            "features.backbones[0]",
            "'resnet51' is not a backbone",
            "did you mean 'resnet50_trunc'?",
        ),
        (
            {"training": {"models": ["abmil"], "model_options": {"abmil": {"hiden_dim": 64}}}},
            "training.model_options.abmil.hiden_dim",
            "unknown key 'hiden_dim'",
            "did you mean 'hidden_dim'?",
        ),
        (
            {"training": {"models": ["abmil"], "model_options": {"abmil": {"dropout": 1.5}}}},
            "training.model_options.abmil.dropout",
            "1.5 is not valid",
            "less than 1",
        ),
        (
            {**TINY, "training": {"n_folds": 9}},
            "training.n_folds",
            "n_folds=9 is outside 2 .. 8 (the cohort has 8 patient(s)",
            "set training.n_folds to a whole number from 2 to 8",
        ),
        (
            {"km": {"formats": ["gif"]}},
            "km.formats[0]",
            "'gif' is not allowed",
            "use 'png', 'pdf' or 'svg'",
        ),
        (
            {"slides": {"exclude": ["SYN-P0001-S1.svs"]}},
            "slides.exclude",
            "['SYN-P0001-S1.svs'] is not slide(s) of the cohort",
            "did you mean 'SYN-P0001-S1'?",
        ),
        (
            {"slides": {"mpp_override": {"NOT-A-SLIDE": 0.25}}},
            "slides.mpp_override",
            "['NOT-A-SLIDE'] is not slide(s)",
            "use slide ids as the cohort lists them (e.g. ['SYN-P0001-S1'",
        ),
        (
            {"heatmaps": {"slides": ["NOT-A-SLIDE"]}},
            "heatmaps.slides",
            "['NOT-A-SLIDE'] is not slide(s)",
            "not file names",
        ),
        (
            {"segmentation": {"method": "otsu", "mask_mpp": -1}},
            "segmentation.mask_mpp",
            "-1 is not valid",
            "input should be greater than 0",
        ),
        (
            {"training": {"protocl": "honest"}},
            "training.protocl",
            "unknown key 'protocl'",
            "did you mean 'protocol'? use one of",
        ),
        (
            {"dataset": {"kind": "tcga", "project": "TCGA-BLCA", "manifest": "m.tsv"}},
            "dataset.data_dir",
            "is missing",
            "config/cohorts/",
        ),
    ],
    ids=[
        "model",
        "backbone",
        "option typo",
        "option value",
        "folds",
        "km format",
        "exclude",
        "mpp override",
        "heatmap slide",
        "section value",
        "unknown key",
        "missing key: named in the file of its section",
    ],
)
def test_a_bad_value_names_the_overlay_the_key_and_a_fix(tmp_path: Path, overlay, key, problem, fix) -> None:
    error = refused(tmp_path, overlay)
    assert error.path == Path("overlay_0.yaml")
    assert f"`{key}`" in error.problem and problem in error.problem, error
    assert fix in (error.fix or ""), error


def test_the_value_is_blamed_on_the_last_file_that_set_it(tmp_path: Path) -> None:
    error = refused(
        tmp_path, {"training": {"models": ["transmil"]}}, {"training": {"models": ["transmil", "dsmil2"]}}
    )
    assert error.path == Path("overlay_1.yaml")


def test_a_value_of_the_main_config_names_the_main_config(tmp_path: Path) -> None:
    error = refused(tmp_path, {"synthetic": {"n_patients": 3}})
    assert error.path == MAIN_CONFIG and "`training.n_folds`: n_folds=5" in error.problem


def test_values_from_the_command_line_say_so(tmp_path: Path) -> None:
    with pytest.raises(PipelineInputError, match=r"^--config on the command line, `features.backbones\[0\]`"):
        checked(tmp_path, command_line={"features": {"backbones": ["uni3"]}})


def test_svg_and_pdf_kaplan_meier_figures_are_accepted(tmp_path: Path) -> None:
    assert checked(tmp_path, {"km": {"formats": ["svg"]}}).km.formats == ("svg",)
    assert checked(tmp_path, {"km": {"formats": ["pdf"]}}).km.formats == ("pdf",)


def test_excluding_every_slide_leaves_an_empty_cohort_named_as_such(tmp_path: Path) -> None:
    every = [slide for slide in checked(tmp_path, TINY).slide_ids]
    error = refused(tmp_path, {**TINY, "slides": {"exclude": every}})
    assert "every slide of the cohort is excluded" in error.problem and error.path == Path("overlay_0.yaml")


def _manifest(path: Path, filenames: list[str]) -> Path:
    rows = [["id", "filename", "md5", "size", "state"]]
    for name in filenames:
        rows.append([str(uuid.uuid4()), name, hashlib.md5(name.encode()).hexdigest(), 1000, "released"])
    path.write_text("\n".join("\t".join(map(str, row)) for row in rows) + "\n")
    return path


def test_a_tcga_manifest_without_diagnostic_slides_is_an_empty_cohort(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path / "manifest.tsv", ["TCGA-AA-0001-01A-01-TS1.x.svs", "TCGA-AA-0001.xml"])
    dataset = {"kind": "tcga", "project": "TCGA-XX", "manifest": str(manifest), "data_dir": "slides"}
    error = refused(tmp_path, {"cohort": "empty", "dataset": dataset})
    assert error.path == Path("overlay_0.yaml") and "`dataset`" in error.problem
    assert "the cohort has no slide" in error.problem and "0 diagnostic slides kept" in error.problem
    assert "'-DX'" in error.problem and "Diagnostic Slide" in error.fix


def test_a_tcga_cohort_lists_its_slides_in_the_data_folder(tmp_path: Path) -> None:
    manifest = _manifest(
        tmp_path / "manifest.tsv", ["TCGA-AA-0001-01Z-00-DX1.A.svs", "TCGA-AA-0002-01Z-00-DX1.B.svs"]
    )
    dataset = {"kind": "tcga", "project": "TCGA-XX", "manifest": str(manifest), "data_dir": "data/xx"}
    run = checked(tmp_path, {"cohort": "xx", "dataset": dataset, "training": {"n_folds": 2}})
    assert run.slide_ids == ["TCGA-AA-0001-01Z-00-DX1.A", "TCGA-AA-0002-01Z-00-DX1.B"]
    assert run.slide_file("TCGA-AA-0002-01Z-00-DX1.B") == "data/xx/TCGA-AA-0002-01Z-00-DX1.B.svs"


def test_a_tcga_cohort_of_the_study_knows_its_patients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    overlay = yaml.safe_load((REPO / "config" / "cohorts" / "tcga_blca.yaml").read_text())
    origins = ConfigOrigins.from_sources(MAIN_CONFIG, [REPO / "config" / "cohorts" / "tcga_blca.yaml"])
    config: dict[str, Any] = {}
    for layer in origins.layers:
        update_config(config, layer.values)
    run = checked_run_config(config, origins, "results/{cohort}/slides")
    assert len(run.slide_ids) > 100 and run.splits_dir == overlay["dataset"]["splits_dir"]
    assert all(slide.case_id for slide in run.slides)


def test_fold_files_must_cover_n_folds(tmp_path: Path) -> None:
    (tmp_path / "folds").mkdir()
    for k in range(3):
        write_table(tmp_path / "folds" / f"splits_{k}.csv", ["", "train", "val"], [[0, "P1", "P2"]])
    sheet, clinical = write_local_cohort(tmp_path / "cohort")
    dataset = {
        "kind": "local",
        "slide_sheet": str(sheet),
        "clinical_table": str(clinical),
        "splits_dir": "folds",
    }
    error = refused(tmp_path, {"cohort": "mine", "dataset": dataset, "training": {"n_folds": 4}})
    assert "lacks ['splits_3.csv']" in error.problem and "`training.n_folds`" in error.problem


def test_a_local_cohort_maps_ids_to_its_files_and_mpp(tmp_path: Path) -> None:
    write_local_cohort(tmp_path / "cohort", n_patients=8)
    dataset = {"kind": "local", "slide_sheet": "cohort/slides.csv", "clinical_table": "cohort/clinical.tsv"}
    training = TINY["training"]
    run = checked(
        tmp_path,
        {
            "cohort": "mine",
            "dataset": dataset,
            "training": training,
            "slides": {"mpp_override": {"S2": 0.26}},
        },
    )
    assert run.slide_ids == [f"S{patient}" for patient in range(1, 9)] + ["S1b"]
    assert run.slide_file("S2") == "cohort/slides/tiff/scan_2.tif"
    assert (run.mpp_override("S1b"), run.mpp_override("S2"), run.mpp_override("S1")) == (0.5, 0.26, None)
    error = refused(tmp_path, {"cohort": "mine", "dataset": dataset, "training": {**training, "n_folds": 9}})
    assert "the cohort has 8 patient(s)" in error.problem


@pytest.mark.parametrize(
    ("dataset", "key", "problem"),
    [
        (
            {"kind": "local", "slide_sheet": "nowhere.csv", "clinical_table": "cohort/clinical.tsv"},
            "dataset.slide_sheet",
            "nowhere.csv does not exist",
        ),
        (
            {"kind": "local", "slide_sheet": "cohort/slides.csv"},
            "dataset",
            "no clinical_table: a cohort that is trained needs survival",
        ),
        (
            {
                "kind": "local",
                "slide_sheet": "cohort/slides.csv",
                "clinical_table": "cohort/clinical.tsv",
                "splits_dir": "nowhere",
            },
            "dataset.splits_dir",
            "folder nowhere does not exist",
        ),
        (
            {
                "kind": "local",
                "slide_sheet": "cohort/slides.csv",
                "clinical_table": "cohort/clinical.tsv",
                "manifest": "cohort/slides.csv",
            },
            "dataset.manifest",
            "unknown key 'manifest'",
        ),
    ],
    ids=["missing sheet", "missing key", "missing folder", "tcga key"],
)
def test_local_source_mistakes_name_the_key(tmp_path: Path, dataset, key, problem) -> None:
    write_local_cohort(tmp_path / "cohort")
    error = refused(tmp_path, {"cohort": "mine", "dataset": dataset})
    assert f"`{key}`" in error.problem and problem in error.problem, error


def test_a_local_sheet_without_slides_names_the_sheet(tmp_path: Path) -> None:
    sheet = write_table(tmp_path / "empty.csv", ["slide_id", "case_id", "path"], [])
    clinical = write_table(
        tmp_path / "clinical.csv", ["case_id", "survival_months", "censorship"], [["P1", 1, 0]]
    )
    error = refused(
        tmp_path,
        {
            "cohort": "mine",
            "dataset": {"kind": "local", "slide_sheet": str(sheet), "clinical_table": str(clinical)},
        },
    )
    assert error.path == sheet and "slide sheet has no rows" in error.problem


def test_the_checks_import_no_torch() -> None:
    """Model and backbone names and model options are checked without torch (seconds per dry run)."""
    code = (
        "import sys, crossfusion_core.config_checks\n"
        "print(sorted(name for name in sys.modules if name.startswith('torch')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_local_example_config_passes_once_its_tables_are_yours(tmp_path: Path) -> None:
    example = yaml.safe_load((REPO / "config" / "cohorts" / "local_example.yaml").read_text())
    sheet, clinical = write_local_cohort(tmp_path / "cohort", n_patients=24)
    example["dataset"].update(slide_sheet=str(sheet), clinical_table=str(clinical))
    run = checked(tmp_path, example)
    assert (run.cohort_name, run.dataset_kind, len(run.slide_ids)) == ("my_cohort", "local", 25)


SIX_PATIENTS = {
    "synthetic": {"n_patients": 6, "second_slide_fraction": 0.0, "censoring_rate": 0.0},
    "training": {"n_folds": 2},
}
"""The issue's example: passed the dry run, then failed at training (too few deaths for 4 time bins)."""


def test_too_few_deaths_per_fold_for_the_time_bins_stop_the_dry_run(tmp_path: Path) -> None:
    error = refused(tmp_path, SIX_PATIENTS)
    assert error.path == MAIN_CONFIG and "`training.n_bins`" in error.problem, error
    assert "trains on 3 patients" in error.problem and "too few for 4 time bins" in error.problem
    assert "before patients without tissue are left out" in error.problem
    assert "lower training.n_bins (now 4)" in error.fix


def test_deaths_are_counted_on_the_items_training_bins_them_over(tmp_path: Path) -> None:
    """With ``items: slide`` the bins are quantiles over slides: a patient's second slide counts again."""
    two_slides = {**SIX_PATIENTS["synthetic"], "second_slide_fraction": 1.0}
    training = {"n_folds": 2, "n_bins": 4, "models": ["abmil"]}
    error = refused(tmp_path, {"synthetic": two_slides, "training": training})
    assert "trains on 3 patients" in error.problem and "`training.n_bins`" in error.problem
    assert checked(tmp_path, {"synthetic": two_slides, "training": {**training, "items": "slide"}})


def test_probe_components_beyond_its_training_patients_stop_the_dry_run(tmp_path: Path) -> None:
    probe = {**TINY["training"], "models": ["linear_probe"]}
    error = refused(tmp_path, {**TINY, "training": probe})
    key = "training.model_options.linear_probe.n_components"
    assert error.path == MAIN_CONFIG and f"`{key}`: n_components=4 exceeds the 3 components" in error.problem
    assert "set n_components to at most 3" in error.fix
    assert checked(
        tmp_path, {**TINY, "training": {**probe, "model_options": {"linear_probe": {"n_components": 3}}}}
    )


def test_probe_components_count_only_the_patients_it_is_fitted_on(tmp_path: Path) -> None:
    """An inner validation split takes two of a fold's four training patients away from the fit."""
    probe = {
        **TINY["training"],
        "models": ["linear_probe"],
        "model_options": {"linear_probe": {"n_components": 2}},
    }
    assert checked(tmp_path, {**TINY, "training": probe})
    error = refused(tmp_path, {**TINY, "training": {**probe, "selection": "inner_validation"}})
    assert error.path == Path("overlay_0.yaml") and "2 training patients allow" in error.problem, error


def test_options_of_a_model_the_run_does_not_train_are_checked_too(tmp_path: Path) -> None:
    overlay = {**TINY, "training": {**TINY["training"], "model_options": {"transmil": {"hiden_dim": 8}}}}
    error = refused(tmp_path, overlay)
    assert (
        error.path == Path("overlay_0.yaml")
        and "`training.model_options.transmil.hiden_dim`" in error.problem
    )


def test_strata_the_stratified_split_cannot_cut_stop_the_dry_run(tmp_path: Path) -> None:
    error = refused(tmp_path, {**TINY, "training": {**TINY["training"], "n_folds": 5, "n_bins": 4}})
    assert "`training.n_folds`" in error.problem and "cannot be cut into 5 folds" in error.problem


@pytest.mark.parametrize(("n_folds", "bound"), [(1, "the number of patients"), (9, "8")], ids=["1", "9"])
def test_n_folds_has_one_rule_and_one_message(tmp_path: Path, n_folds: int, bound: str) -> None:
    error = refused(tmp_path, {**TINY, "training": {**TINY["training"], "n_folds": n_folds}})
    assert f"`training.n_folds`: n_folds={n_folds} is outside 2 .. {bound} (" in error.problem, error
    assert error.fix == f"set training.n_folds to a whole number from 2 to {bound}"
