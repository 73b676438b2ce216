"""The device and precision a job computes in, resolved once, in one place, for extraction and training.

``auto`` device means CUDA when this process can use it, else the CPU. "Can use" is more than
``torch.cuda.is_available()``: a GPU whose compute capability the installed wheel has no kernels for
is "available" and fails at the first kernel, and a GPU behind a CPU-only wheel or a too-old driver is
simply not available. Both would leave a job computing in fp32 on the CPU, hours instead of minutes,
so a GPU that is there but unusable is named in a warning (``auto``) or an error (``cuda``) with the
reason. ``auto`` precision is fp32 on the CPU and the caller's rule on CUDA. The scheduling side (how
many GPUs a job declares) is :mod:`crossfusion_core.gpus`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal

import torch

from crossfusion_core.gpus import visible_nvidia_gpus
from crossfusion_core.settings import SettingsError

Precision = Literal["fp32", "fp16", "bf16"]
AUTOCAST_DTYPES: dict[str, torch.dtype] = {"fp16": torch.float16, "bf16": torch.bfloat16}
INSTALL_FIX = (
    "install a PyTorch build for this GPU and its driver (https://pytorch.org/get-started/locally), "
    "or set {setting}: cpu to compute on the CPU on purpose"
)


@dataclass(frozen=True)
class Compute:
    """Where a job computes and in what, both resolved: what its forward passes need, as one value."""

    device: torch.device
    precision: Precision

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The dtype forward passes autocast to; None for fp32, which runs without autocast."""
        return AUTOCAST_DTYPES.get(self.precision)

    def autocast(self) -> AbstractContextManager:
        """The autocast context of this precision on this device (switched off for fp32)."""
        return torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.precision != "fp32")


@dataclass(frozen=True)
class CudaState:
    """What this process's PyTorch can do with CUDA: the facts :meth:`problem` judges."""

    gpus_present: int
    """NVIDIA GPUs the machine shows this process (device files), whatever PyTorch thinks of them."""
    torch_version: str
    built_for_cuda: str | None
    """``torch.version.cuda``: None for a CPU-only build."""
    available: bool
    gpu_name: str = ""
    capability: tuple[int, int] | None = None
    arch_list: tuple[str, ...] = ()
    """``torch.cuda.get_arch_list()``: sm_XY machine code and compute_XY PTX the build carries."""
    init_warning: str | None = None
    """What PyTorch warned while initialising CUDA (e.g. a driver too old for its CUDA version)."""

    @classmethod
    def of_this_process(cls) -> CudaState:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            available = torch.cuda.is_available()
        return cls(
            gpus_present=visible_nvidia_gpus(),
            torch_version=torch.__version__,
            built_for_cuda=torch.version.cuda,
            available=available,
            gpu_name=torch.cuda.get_device_name(0) if available else "",
            capability=torch.cuda.get_device_capability(0) if available else None,
            arch_list=tuple(torch.cuda.get_arch_list()) if available else (),
            init_warning=next((str(w.message).strip() for w in caught), None),
        )

    def problem(self) -> str | None:
        """Why CUDA cannot be used although there is a GPU; None when it can be, or when there is none."""
        if self.available:
            if self.capability is None or kernels_run_on(self.capability, self.arch_list):
                return None
            major, minor = self.capability
            return (
                f"the GPU {self.gpu_name} has compute capability {major}.{minor} (sm_{major}{minor}) and "
                f"PyTorch {self.torch_version} (CUDA {self.built_for_cuda}) has kernels for "
                f"{', '.join(self.arch_list) or 'no architecture'} only"
            )
        if not self.gpus_present:
            return None
        present = f"{self.gpus_present} NVIDIA GPU(s) are present but PyTorch {self.torch_version}"
        if self.built_for_cuda is None:
            return f"{present} is a CPU-only build"
        return (
            f"{present} (CUDA {self.built_for_cuda}) cannot initialise CUDA: "
            f"{self.init_warning or 'no usable device (is the driver older than this CUDA version?)'}"
        )


def kernels_run_on(capability: tuple[int, int], arch_list: Sequence[str]) -> bool:
    """Whether a build carrying ``arch_list`` runs on a GPU of ``capability``.

    Machine code for sm_XY runs on GPUs of the same major version X and a minor version >= Y; PTX
    (compute_XY) is compiled by the driver for any GPU at least as new as X.Y.
    """
    for arch in arch_list:
        kind, _, number = arch.partition("_")
        digits = number.rstrip("abcdefghijklmnopqrstuvwxyz")
        if not digits.isdigit() or len(digits) < 2:
            continue
        target = (int(digits[:-1]), int(digits[-1]))
        if kind == "sm" and target[0] == capability[0] and target[1] <= capability[1]:
            return True
        if kind == "compute" and target <= tuple(capability):
            return True
    return False


def resolve_compute(
    section: str, device: str, precision: str, cuda_precision: Precision, state: CudaState | None = None
) -> Compute:
    """The ``device`` and ``precision`` settings of config ``section``, ``auto`` resolved for this process.

    ``cuda_precision`` is what ``auto`` precision means on CUDA, the one rule that differs by section;
    ``state`` defaults to this process's, and passing one shows how another machine would resolve.
    """
    resolved = _resolved_device(device, section, state)
    if precision == "auto":
        precision = cuda_precision if resolved.type == "cuda" else "fp32"
    return Compute(resolved, precision)


def _resolved_device(requested: str, section: str, state: CudaState | None) -> torch.device:
    """The device for ``requested`` (auto, cpu or cuda), the ``device`` key of config ``section``."""
    if requested == "cpu":
        return torch.device("cpu")
    state = state or CudaState.of_this_process()
    problem = state.problem()
    if state.available and problem is None:
        return torch.device("cuda")
    fix = INSTALL_FIX.format(setting=f"{section}.device")
    if requested == "cuda":
        reason = problem or "no GPU is visible to this job"
        raise SettingsError(section, ("device",), f"is cuda but {reason}", fix)
    if problem is not None:
        warnings.warn(
            f"{section}.device is auto and a GPU is present, but {problem}: computing on the CPU instead, "
            f"far slower. Fix: {fix}",
            stacklevel=3,
        )
    return torch.device("cpu")
