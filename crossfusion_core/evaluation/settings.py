"""The `evaluation` config section, checked once where the workflow hands it over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from crossfusion_core.errors import PipelineInputError


def reject_unknown_keys(mapping: Mapping[str, Any], settings_class: type, section: str) -> None:
    """Fail on a misspelt key instead of silently running with its default."""
    known = {field.name for field in fields(settings_class)}
    unknown = sorted(set(mapping) - known)
    if unknown:
        raise PipelineInputError(
            None,
            f"config section `{section}` has unknown keys {unknown}",
            f"use only {sorted(known)}",
        )


def require(condition: bool, section: str, problem: str, fix: str) -> None:
    """Raise a config error for ``section`` unless ``condition`` holds."""
    if not condition:
        raise PipelineInputError(None, f"config section `{section}`: {problem}", fix)


@dataclass(frozen=True)
class EvaluationSettings:
    """How fold predictions are scored.

    ``tied_tol`` is the risk difference below which two patients count as tied in every C-index, so
    that float noise between two identical bags does not decide a pair.
    """

    tied_tol: float = 1e-8

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> EvaluationSettings:
        mapping = dict(mapping or {})
        reject_unknown_keys(mapping, cls, "evaluation")
        settings = cls(tied_tol=float(mapping.get("tied_tol", cls.tied_tol)))
        require(settings.tied_tol >= 0, "evaluation", f"tied_tol={settings.tied_tol} is negative", "use 1e-8")
        return settings
