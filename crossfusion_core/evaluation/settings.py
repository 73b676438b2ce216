"""The `evaluation` config section, checked once where the workflow hands it over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crossfusion_core.settings import require, section_values


@dataclass(frozen=True)
class EvaluationSettings:
    """How fold predictions are scored.

    ``tied_tol`` is the risk difference below which two patients count as tied in every C-index, so
    that float noise between two identical bags does not decide a pair.
    """

    tied_tol: float = 1e-8

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> EvaluationSettings:
        settings = cls(**section_values(mapping, cls, "evaluation"))
        require(settings.tied_tol >= 0, "evaluation", f"tied_tol={settings.tied_tol} is negative", "use 1e-8")
        return settings
