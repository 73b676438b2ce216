"""The device a job computes on: CUDA when usable, else the CPU, and never silently past a GPU; and the
precision, fp32 on the CPU and the caller's rule on CUDA.

The CUDA facts are given as :class:`CudaState` values (no GPU here): a wheel without kernels for the
GPU's architecture, a CPU-only wheel on a GPU machine, a driver that does not initialise.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from crossfusion_core.devices import Compute, CudaState, kernels_run_on, resolve_compute
from crossfusion_core.gpus import visible_nvidia_gpus
from crossfusion_core.settings import SettingsError

H100_WHEEL_ARCHS = ("sm_80", "sm_86", "sm_90")
NO_GPU = CudaState(gpus_present=0, torch_version="2.5.1", built_for_cuda="12.4", available=False)
USABLE = CudaState(1, "2.5.1", "12.4", True, "NVIDIA H100", (9, 0), H100_WHEEL_ARCHS)
TOO_NEW_FOR_THE_WHEEL = CudaState(1, "2.5.1", "12.4", True, "NVIDIA RTX PRO 6000", (12, 0), H100_WHEEL_ARCHS)
CPU_ONLY_WHEEL = CudaState(gpus_present=2, torch_version="2.5.1+cpu", built_for_cuda=None, available=False)
OLD_DRIVER = CudaState(
    1, "2.5.1", "12.4", False, init_warning="CUDA initialization: The NVIDIA driver on your system is too old"
)


@pytest.mark.parametrize(
    ("capability", "archs", "runs"),
    [
        ((9, 0), H100_WHEEL_ARCHS, True),
        ((8, 9), H100_WHEEL_ARCHS, True),
        ((12, 0), H100_WHEEL_ARCHS, False),
        ((12, 0), (*H100_WHEEL_ARCHS, "compute_90"), True),
        ((7, 0), ("sm_80", "compute_80"), False),
        ((9, 0), ("sm_90a",), True),
    ],
)
def test_kernels_run_on_the_same_major_version_or_through_ptx(
    capability: tuple[int, int], archs: tuple[str, ...], runs: bool
) -> None:
    assert kernels_run_on(capability, archs) is runs


@pytest.mark.parametrize(
    ("state", "named"),
    [
        (TOO_NEW_FOR_THE_WHEEL, "compute capability 12.0 (sm_120) and PyTorch 2.5.1 (CUDA 12.4) has kernels"),
        (CPU_ONLY_WHEEL, "2 NVIDIA GPU(s) are present but PyTorch 2.5.1+cpu is a CPU-only build"),
        (OLD_DRIVER, "The NVIDIA driver on your system is too old"),
    ],
)
def test_auto_warns_with_the_reason_when_a_gpu_is_present_but_unusable(state: CudaState, named: str) -> None:
    with pytest.warns(UserWarning, match=r"features\.device is auto and a GPU is present") as caught:
        assert resolve_compute("features", "auto", "auto", "fp16", state) == Compute(
            torch.device("cpu"), "fp32"
        )
    assert named in str(caught[0].message)


@pytest.mark.parametrize("state", [TOO_NEW_FOR_THE_WHEEL, CPU_ONLY_WHEEL, OLD_DRIVER, NO_GPU])
def test_cuda_that_cannot_be_used_is_an_error_naming_why(state: CudaState) -> None:
    with pytest.raises(SettingsError, match=r"`training\.device`: is cuda but") as info:
        resolve_compute("training", "cuda", "auto", "bf16", state)
    assert (info.value.section, info.value.key) == ("training", ("device",))
    assert (state.problem() or "no GPU is visible") in str(info.value)
    assert "set training.device: cpu" in str(info.value)


def test_auto_is_cuda_where_usable_and_the_cpu_quietly_where_there_is_no_gpu() -> None:
    assert resolve_compute("features", "auto", "fp32", "fp16", USABLE).device == torch.device("cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_compute("features", "auto", "fp32", "fp16", NO_GPU).device == torch.device("cpu")
        cpu = resolve_compute("features", "cpu", "fp32", "fp16", TOO_NEW_FOR_THE_WHEEL)
        assert cpu.device == torch.device("cpu")


@pytest.mark.parametrize(
    ("device", "precision", "state", "resolved"),
    [
        ("auto", "auto", USABLE, "bf16"),
        ("auto", "auto", NO_GPU, "fp32"),
        ("cpu", "auto", USABLE, "fp32"),
        ("auto", "fp32", USABLE, "fp32"),
        ("cpu", "fp16", USABLE, "fp16"),
    ],
)
def test_auto_precision_is_the_given_rule_on_cuda_and_fp32_on_the_cpu(
    device: str, precision: str, state: CudaState, resolved: str
) -> None:
    assert resolve_compute("training", device, precision, "bf16", state).precision == resolved


@pytest.mark.parametrize(
    ("precision", "dtype"), [("fp32", None), ("bf16", torch.bfloat16), ("fp16", torch.float16)]
)
def test_autocast_runs_matrix_products_in_the_precision(precision: str, dtype: torch.dtype | None) -> None:
    compute = Compute(torch.device("cpu"), precision)
    with compute.autocast():
        product = torch.ones(2, 2) @ torch.ones(2, 2)
    assert compute.autocast_dtype is dtype
    assert product.dtype == (dtype or torch.float32)


def test_this_machine_is_read_as_it_is() -> None:
    state = CudaState.of_this_process()
    assert (state.available, state.built_for_cuda) == (torch.cuda.is_available(), torch.version.cuda)
    assert state.gpus_present == visible_nvidia_gpus()
