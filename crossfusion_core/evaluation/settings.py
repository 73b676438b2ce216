"""The `evaluation` config section, checked once where the workflow hands it over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crossfusion_core.settings import require, section_values

if TYPE_CHECKING:
    from crossfusion_core.evaluation.bootstrap import BootstrapSettings


@dataclass(frozen=True)
class EvaluationSettings:
    """How fold predictions are scored.

    ``tied_tol`` is the risk difference below which two patients count as tied in every C-index, so
    that float noise between two identical bags does not decide a pair. Every pooled C-index and every
    difference between two models gets a percentile bootstrap interval at ``confidence_level`` from
    ``bootstrap_resamples`` resamples of the patients drawn from ``bootstrap_seed``
    (:mod:`crossfusion_core.evaluation.bootstrap`).
    """

    tied_tol: float = 1e-8
    bootstrap_resamples: int = 2000
    confidence_level: float = 0.95
    bootstrap_seed: int = 0

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> EvaluationSettings:
        settings = cls(**section_values(mapping, cls, "evaluation"))
        require(settings.tied_tol >= 0, "evaluation", f"tied_tol={settings.tied_tol} is negative", "use 1e-8")
        require(
            settings.bootstrap_resamples >= 100,
            "evaluation",
            f"bootstrap_resamples={settings.bootstrap_resamples} is too few for a 95% interval",
            "use 2000",
        )
        require(
            0.5 <= settings.confidence_level < 1.0,
            "evaluation",
            f"confidence_level={settings.confidence_level} is not in [0.5, 1)",
            "use 0.95",
        )
        return settings

    @property
    def bootstrap(self) -> BootstrapSettings:
        # Imported here: the workflow checks this section whenever it builds the DAG (every dry run and
        # every job's start), and the bootstrap's scikit-survival import alone costs ~1.5 s.
        from crossfusion_core.evaluation.bootstrap import BootstrapSettings

        return BootstrapSettings(self.bootstrap_resamples, self.confidence_level, self.bootstrap_seed)
