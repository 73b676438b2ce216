"""A `deploy` section is checked while the DAG is built: the target as a cohort of its own, its errors
naming its file, then the trained models against it, every mismatch naming both sides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from local.cohort_files import write_local_cohort
from test_config_checks import TINY, checked

from crossfusion_core.config_checks import RunConfig
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.features.backbones import BACKBONES
from deploy.trained_runs import write_trained_run


@pytest.fixture(autouse=True)
def _in_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _deployed(
    workdir: Path, target: dict[str, Any], deploy: dict[str, Any] | None = None, **run: Any
) -> RunConfig:
    """TINY on the main config, plus ``run``, deploying on a target file holding ``target``."""
    (workdir / "target.yaml").write_text(yaml.safe_dump(target))
    return checked(workdir, {**TINY, **run, "deploy": {"target": "target.yaml", **(deploy or {})}})


def _refused(workdir: Path, target: dict[str, Any], deploy: dict[str, Any] | None = None, **run: Any) -> str:
    with pytest.raises(PipelineInputError) as info:
        _deployed(workdir, target, deploy, **run)
    return str(info.value)


def test_a_synthetic_target_of_another_seed_is_its_own_cohort(tmp_path: Path) -> None:
    run = _deployed(tmp_path, {"cohort": "other", "synthetic": {"seed": 8}})
    deployment = run.deployment
    assert deployment.target.cohort_name == "other" and deployment.target.has_survival
    assert deployment.target.slide_file(deployment.target.slide_ids[0]).startswith("results/other/slides/")
    assert deployment.target_config["features"] == run.deployment.target_config["features"]
    assert deployment.trained_here and deployment.models_root == Path("results/synthetic")
    assert checked(tmp_path, TINY).deployment is None


def test_a_missing_target_file_names_the_key_and_the_file(tmp_path: Path) -> None:
    with pytest.raises(
        PipelineInputError, match=r"overlay_0\.yaml: `deploy\.target`: nope\.yaml does not exist"
    ):
        checked(tmp_path, {**TINY, "deploy": {"target": "nope.yaml"}})


def test_the_targets_own_mistakes_name_the_target_file(tmp_path: Path) -> None:
    message = _refused(
        tmp_path, {"cohort": "other", "synthetic": {"seed": 8}, "slides": {"exclude": ["SYN-X"]}}
    )
    assert message.startswith("target.yaml: `slides.exclude`: ['SYN-X'] is not slide(s) of the cohort")
    message = _refused(tmp_path, {"cohort": "other", "synthetic": {"seed": 8}, "km": {"groups": "quartiles"}})
    assert message.startswith("target.yaml: `km.groups`")


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        (
            {"cohort": "synthetic", "synthetic": {"seed": 8}},
            "target.yaml: the deployment target is named 'synthetic', as the trained",
        ),
        (
            {"cohort": "other"},
            "target.yaml: the deployment target lists the trained cohort's own slides",
        ),
    ],
)
def test_the_target_must_be_another_cohort(tmp_path: Path, target: dict, problem: str) -> None:
    assert problem in _refused(tmp_path, target)


def test_another_backbone_for_the_target_names_both_configs(tmp_path: Path) -> None:
    message = _refused(
        tmp_path, {"cohort": "other", "synthetic": {"seed": 8}, "features": {"backbones": ["uni"]}}
    )
    assert message.startswith(
        "target.yaml: `features.backbones`: the models are trained on ['efficientnet_lite0']"
    )
    assert "config/config.yaml), but the deployment target lists ['uni']" in message


def test_other_weights_for_the_same_backbone_name_both_configs(tmp_path: Path) -> None:
    Path("w.bin").write_bytes(b"weights")
    target = {
        "cohort": "other",
        "synthetic": {"seed": 8},
        "features": {"weights": {"efficientnet_lite0": "w.bin"}},
    }
    message = _refused(tmp_path, target)
    assert message.startswith("target.yaml: `features.weights.efficientnet_lite0`: the models are trained on")
    assert "from weights None (the default), but the deployment target's are from w.bin" in message


def test_final_weights_need_a_final_model(tmp_path: Path) -> None:
    target = {"cohort": "other", "synthetic": {"seed": 8}}
    assert "training.final_model is false" in _refused(tmp_path, target, {"weights": "final"})
    training = {**TINY["training"], "final_model": True}
    assert (
        _deployed(tmp_path, target, {"weights": "final"}, training=training).deployment.settings.weights
        == "final"
    )


def test_a_local_target_may_come_without_survival_but_a_trained_cohort_may_not(tmp_path: Path) -> None:
    write_local_cohort(tmp_path / "hospital", n_patients=3)
    dataset = {"kind": "local", "slide_sheet": "hospital/slides.csv"}
    target = _deployed(tmp_path, {"cohort": "hospital", "dataset": dataset}).deployment.target
    assert not target.has_survival and target.slide_ids == ["S1", "S2", "S3", "S1b"]
    trained_without_survival = (
        r"overlay_0\.yaml: `dataset`: no clinical_table: a cohort that is trained needs"
    )
    with pytest.raises(PipelineInputError, match=trained_without_survival):
        checked(tmp_path, {**TINY, "cohort": "hospital", "dataset": dataset})


def test_models_from_another_run_are_read_and_checked_against_the_target(tmp_path: Path) -> None:
    dim = BACKBONES["efficientnet_lite0"].dim
    target = {"cohort": "other", "synthetic": {"seed": 8}}
    run = _deployed(
        tmp_path,
        target,
        {
            "models_from": str(
                write_trained_run(
                    tmp_path / "ok", "efficientnet_lite0", recorded_backbone="efficientnet_lite0", dim=dim
                )
            )
        },
    )
    assert not run.deployment.trained_here and run.deployment.models_root == tmp_path / "ok"
    wrong = str(
        write_trained_run(tmp_path / "wrong", "efficientnet_lite0", recorded_backbone="uni", dim=1024)
    )
    message = _refused(tmp_path, target, {"models_from": wrong})
    assert (
        "fold_0/model.pt: trained on 'uni' features, but the deployment target (other, target.yaml) gets "
        in message
    )
