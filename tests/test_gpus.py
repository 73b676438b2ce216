"""How many GPUs a job declares: NVIDIA device files and CUDA_VISIBLE_DEVICES, read without torch."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossfusion_core.gpus import job_gpus, visible_nvidia_gpus


@pytest.fixture
def dev_with_two_gpus(tmp_path: Path) -> Path:
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "null"):
        (tmp_path / name).touch()
    return tmp_path


@pytest.mark.parametrize(
    ("visible", "expected"),
    [(None, 2), ("0", 1), ("1,0", 2), ("0,1,2,3", 2), ("", 0), ("-1", 0), ("NoDevFiles", 0), ("0,-1,1", 1)],
)
def test_device_files_capped_by_cuda_visible_devices(
    dev_with_two_gpus: Path, visible: str | None, expected: int
) -> None:
    environ = {} if visible is None else {"CUDA_VISIBLE_DEVICES": visible}
    assert visible_nvidia_gpus(dev_with_two_gpus, environ) == expected


def test_a_machine_without_nvidia_devices_shows_none(tmp_path: Path) -> None:
    (tmp_path / "null").touch()
    assert visible_nvidia_gpus(tmp_path, {}) == 0


@pytest.mark.parametrize(
    ("device", "gpus_here", "declared"),
    [("auto", 0, 0), ("auto", 2, 1), ("cuda", 0, 1), ("cpu", 4, 0)],
)
def test_a_job_declares_a_gpu_exactly_when_it_will_compute_on_cuda(
    device: str, gpus_here: int, declared: int
) -> None:
    assert job_gpus(device, gpus_here) == declared
