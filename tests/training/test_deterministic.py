"""A fold's deterministic mode is strict: what PyTorch can make deterministic is, the rest stops the fold.

On a GPU the difference is flash / memory-efficient attention: their backward is deterministic only
when determinism is strict, not when it merely warns. On the CPU the same switch is seen through an
operation PyTorch has no deterministic CPU kernel for (``put_`` without accumulation): strict mode
raises where warn-only mode would have let the run go on, unrepeatable.
"""

from __future__ import annotations

import pytest
import torch

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.training.fold import _deterministic


def _mode() -> tuple[bool, bool]:
    return torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()


def test_mode_is_strict_inside_and_restored_after() -> None:
    """Strict is what flash attention's backward reads to pick its deterministic algorithm."""
    before = _mode()
    with _deterministic():
        assert _mode() == (True, False)
    assert _mode() == before


def test_an_operation_without_a_deterministic_kernel_stops_the_fold_naming_it() -> None:
    values = torch.zeros(4)
    with pytest.raises(PipelineInputError) as info, _deterministic():
        values.put_(torch.tensor([0, 0]), torch.tensor([1.0, 2.0]), accumulate=False)
    message = str(info.value)
    assert "put_" in message and "cannot be deterministic" in message and "training.device: cpu" in message


def test_other_errors_pass_through_unchanged() -> None:
    with pytest.raises(ValueError, match="not about determinism"), _deterministic():
        raise ValueError("not about determinism")
