"""The `evaluation` config section, checked once where the workflow hands it over."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from crossfusion_core.settings import Count, Settings

if TYPE_CHECKING:
    from crossfusion_core.evaluation.bootstrap import BootstrapSettings


class EvaluationSettings(Settings):
    """How fold predictions are scored.

    ``tied_tol`` is the risk difference below which two patients count as tied in every C-index, so
    that float noise between two identical bags does not decide a pair. Every pooled C-index and every
    difference between two models gets a percentile bootstrap interval at ``confidence_level`` from
    ``bootstrap_resamples`` resamples of the patients drawn from ``bootstrap_seed``
    (:mod:`crossfusion_core.evaluation.bootstrap`).
    """

    section: ClassVar[str] = "evaluation"
    tied_tol: float = Field(1e-8, ge=0)
    bootstrap_resamples: Count = Field(2000, ge=100)
    """At least 100: fewer leave too few resamples in the tails of a 95% interval."""
    confidence_level: float = Field(0.95, ge=0.5, lt=1)
    bootstrap_seed: Count = Field(0, ge=0)

    @property
    def bootstrap(self) -> BootstrapSettings:
        # Imported here: the workflow checks this section whenever it builds the DAG (every dry run and
        # every job's start), and the bootstrap's scikit-survival import alone costs ~1.5 s.
        from crossfusion_core.evaluation.bootstrap import BootstrapSettings

        return BootstrapSettings(self.bootstrap_resamples, self.confidence_level, self.bootstrap_seed)
