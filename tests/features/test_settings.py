"""The `features` config section: defaults, checks and the external-features block."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.features.settings import FeatureSettings


def test_project_config_section_is_valid() -> None:
    section = yaml.safe_load(Path("config/config.yaml").read_text())["features"]
    settings = FeatureSettings.from_mapping(section)
    assert settings.backbones == ("efficientnet_lite0",) and settings.external is None


def test_external_block_is_parsed_with_integer_magnifications() -> None:
    settings = FeatureSettings.from_mapping(
        {"external": {"format": "TRIDENT", "dirs": {"5": "/a", "10": "/b", "20": "/c"}}}
    )
    assert settings.external.format == "trident"
    assert settings.external.dirs_by_magnification == {5: Path("/a"), 10: Path("/b"), 20: Path("/c")}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"precision": "fp8"}, "precision is 'fp8'"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"read_strategy": "mmap"}, "read_strategy"),
        ({"batchsize": 4}, "unknown keys"),
        ({"external": {"format": "clam", "dirs": {}}}, "external.dirs is empty"),
        (
            {"external": {"format": "clam", "dirs": {5: "/a", 10: "/b", 40: "/c"}}},
            r"magnifications \[5, 10, 40\]",
        ),
    ],
)
def test_bad_values_name_the_key(section: dict, message: str) -> None:
    with pytest.raises(PipelineInputError, match=message):
        FeatureSettings.from_mapping(section)


@pytest.mark.parametrize(
    ("num_workers", "threads", "device_type", "readers"),
    [
        ("auto", 8, "cuda", 7),
        ("auto", 1, "cuda", 1),
        ("auto", 8, "cpu", 1),
        (3, 8, "cuda", 3),
        (0, 8, "cpu", 0),
    ],
)
def test_reader_processes_scale_with_the_jobs_cpus_on_a_gpu(
    num_workers: int | str, threads: int, device_type: str, readers: int
) -> None:
    """The SLURM profile gives an extraction job 8 CPUs: on CUDA all but the main process's read."""
    resources = FeatureSettings.from_mapping({"num_workers": num_workers}).resources
    assert resources.for_job(threads, device_type).num_workers == readers


def test_reader_processes_default_to_auto() -> None:
    assert FeatureSettings.from_mapping({}).resources.num_workers == "auto"


@pytest.mark.parametrize("num_workers", ["many", -1, True, 2.5])
def test_reader_processes_are_auto_or_a_count(num_workers: object) -> None:
    with pytest.raises(PipelineInputError, match="num_workers"):
        FeatureSettings.from_mapping({"num_workers": num_workers})
