"""The `features` config section: defaults, checks and the external-features block."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crossfusion_core.features.settings import RESOURCE_KEYS, ExtractionResources, FeatureSettings
from crossfusion_core.settings import SettingsError


def test_project_config_section_is_valid() -> None:
    section = yaml.safe_load(Path("config/config.yaml").read_text())["features"]
    settings = FeatureSettings.from_mapping(section)
    assert settings.backbones == ("efficientnet_lite0",) and settings.external is None


def test_external_block_is_parsed_with_integer_magnifications() -> None:
    settings = FeatureSettings.from_mapping(
        {"external": {"format": "trident", "dirs": {"5": "/a", "10": "/b", "20": "/c"}}}
    )
    assert settings.external.format == "trident"
    assert settings.external.dirs == {5: Path("/a"), 10: Path("/b"), 20: Path("/c")}


@pytest.mark.parametrize(
    ("section", "key", "message"),
    [
        ({"precision": "fp8"}, ("precision",), "'fp8' is not allowed"),
        ({"batch_size": 0}, ("batch_size",), "0 is not valid"),
        ({"read_strategy": "mmap"}, ("read_strategy",), "'mmap' is not allowed"),
        ({"read_retries": -1}, ("read_retries",), "-1 is not valid"),
        ({"batchsize": 4}, ("batchsize",), "did you mean 'batch_size'"),
        ({"backbones": []}, ("backbones",), "at least 1 item"),
        ({"backbones": ["uni", "conch", "uni"]}, ("backbones",), r"\['uni'\] more than once"),
        ({"external": {"format": "clam", "dirs": {}}}, ("external", "dirs"), r"magnifications \[\]"),
        (
            {"external": {"format": "clam", "dirs": {5: "/a", 10: "/b", 40: "/c"}}},
            ("external", "dirs"),
            r"magnifications \[5, 10, 40\]",
        ),
        ({"external": {"format": "TRIDENT", "dirs": {}}}, ("external", "format"), "use 'clam' or 'trident'"),
    ],
)
def test_bad_values_name_the_key(section: dict, key: tuple[str, ...], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        FeatureSettings.from_mapping(section)
    assert raised.value.key == key


def test_resource_keys_sit_flat_in_the_section_and_travel_on_their_own() -> None:
    """The workflow hands batch size, readers, device and CPU runtime to jobs as resources, apart."""
    settings = FeatureSettings.from_mapping({"batch_size": 8, "device": "cpu", "precision": "fp32"})
    assert settings.resources == ExtractionResources(batch_size=8, device="cpu")
    assert RESOURCE_KEYS == ("batch_size", "num_workers", "device", "cpu_runtime")


def test_an_empty_weights_key_means_no_weights() -> None:
    assert FeatureSettings.from_mapping({"weights": None}).weights == {}
    weights = FeatureSettings.from_mapping({"weights": {"uni": "ckpt/uni.bin"}}).weights
    assert weights == {"uni": Path("ckpt/uni.bin")}


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
    with pytest.raises(SettingsError, match="neither auto nor a number of reader processes") as raised:
        FeatureSettings.from_mapping({"num_workers": num_workers})
    assert raised.value.key == ("num_workers",)
