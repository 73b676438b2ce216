"""The whole config of a run as one typed model: every section, its keys, types, defaults and ranges.

Snakemake merges config/config.yaml, each ``--configfile`` overlay and ``--config`` pairs into one dict;
:class:`PipelineConfig` validates that dict once, while the DAG is built (see
:mod:`crossfusion_core.config_checks`, which adds what no type can say: registry names, files on disk,
folds). Each section is the :class:`~crossfusion_core.settings.Settings` model of the package that uses
it, so adding a setting is adding one field there. config/schema.yaml (for editors that complete and
check YAML) is written from this model by ``python -m crossfusion_core.pipeline_config``, and a test
keeps the committed file equal to what it writes.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, ClassVar

import yaml
from pydantic import Field, model_validator

from crossfusion_core.cohort import CohortDataset, SlideSettings
from crossfusion_core.deploy.settings import DeploySettings
from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.features.settings import FeatureSettings
from crossfusion_core.plots.settings import HeatmapSettings, KmSettings
from crossfusion_core.settings import ConfigProblem, Settings
from crossfusion_core.synthetic.dataset import SyntheticDataset
from crossfusion_core.synthetic.settings import SyntheticSettings
from crossfusion_core.training.settings import TrainingSettings
from crossfusion_core.wsi.settings import PatchingSettings, SegmentationSettings

SCHEMA_HEADER = (
    "crossfusion-workflow configuration, written from crossfusion_core/pipeline_config.py by "
    "`python -m crossfusion_core.pipeline_config > config/schema.yaml`; do not edit by hand."
)


class PipelineConfig(Settings):
    """Every section of a run's config; each defaults to its model's defaults."""

    section: ClassVar[str] = "config"
    cohort: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] = "synthetic"
    """Results land under results/{cohort}/."""
    dataset: CohortDataset = SyntheticDataset()
    synthetic: SyntheticSettings = SyntheticSettings()
    slides: SlideSettings = SlideSettings()
    segmentation: SegmentationSettings = SegmentationSettings()
    patching: PatchingSettings = PatchingSettings()
    features: FeatureSettings = FeatureSettings()
    training: TrainingSettings = TrainingSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    km: KmSettings = KmSettings()
    heatmaps: HeatmapSettings = HeatmapSettings()
    deploy: DeploySettings | None = None
    """Apply this run's models to another cohort (crossfusion_core/deploy/)."""

    @model_validator(mode="before")
    @classmethod
    def _no_source_section(cls, values: Any) -> Any:
        """The section was called `source` until "source" came to mean only the 10x scale."""
        if isinstance(values, dict) and "source" in values:
            raise ConfigProblem(
                "unknown key 'source': the section is now called `dataset`",
                "rename `source:` to `dataset:` in this file (its keys are unchanged)",
                key=("source",),
            )
        return values


def config_schema() -> dict[str, Any]:
    """The JSON schema of a run's config, as config/schema.yaml holds it."""
    schema = PipelineConfig.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$comment": SCHEMA_HEADER, **schema}


def main() -> None:
    """Print config/schema.yaml."""
    yaml.safe_dump(config_schema(), sys.stdout, sort_keys=False, width=110)


if __name__ == "__main__":
    main()
