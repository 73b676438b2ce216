"""Which file set a config value: the last layer that sets it, as Snakemake merges them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crossfusion_core.config_origins import ConfigOrigins, dotted_key


@pytest.fixture
def origins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ConfigOrigins:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "main.yaml").write_text(yaml.safe_dump({"training": {"lr": 1e-4, "models": ["abmil"]}}))
    (tmp_path / "cohorts").mkdir()
    (tmp_path / "cohorts" / "mine.yaml").write_text(yaml.safe_dump({"training": {"models": ["dsmil"]}}))
    return ConfigOrigins.from_sources(
        tmp_path / "main.yaml", [tmp_path / "cohorts" / "mine.yaml"], {"km": {"groups": "tertiles"}}
    )


def test_the_last_layer_that_sets_a_key_is_its_origin(origins: ConfigOrigins) -> None:
    assert origins.origin(("training", "lr")).label == "main.yaml"
    assert origins.origin(("training", "models", 0)).label == "cohorts/mine.yaml"
    assert origins.origin(("km", "groups")).label == "--config on the command line"
    assert origins.origin(("training", "epochs")) is None


def test_errors_name_the_file_the_key_and_the_fix(origins: ConfigOrigins) -> None:
    error = origins.error(("training", "models", 0), "'dsmil2' is not a model", "use dsmil")
    assert error.path == Path("cohorts/mine.yaml")
    assert str(error) == "cohorts/mine.yaml: `training.models[0]`: 'dsmil2' is not a model. Fix: use dsmil"
    assert str(origins.error(("km", "groups"), "bad", "fix")).startswith(
        "--config on the command line, `km.groups`"
    )
    assert "not set in any config file" in str(origins.error(("training", "epochs"), "bad", "fix"))


def test_a_file_outside_the_run_folder_keeps_its_full_path(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "elsewhere.yaml").write_text("cohort: x\n")
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    origins = ConfigOrigins.from_sources(None, [tmp_path / "elsewhere.yaml"])
    assert origins.origin(("cohort",)).label == str(tmp_path / "elsewhere.yaml")


def test_dotted_keys_read_as_in_the_yaml() -> None:
    assert (
        dotted_key(("training", "model_options", "abmil", "hiden_dim"))
        == "training.model_options.abmil.hiden_dim"
    )
    assert dotted_key(("features", "backbones", 1)) == "features.backbones[1]"
