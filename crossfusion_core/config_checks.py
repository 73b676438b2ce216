"""Every config value checked while Snakemake builds the DAG, before any job runs.

A name that only a job would reject (a misspelt model, an option a model lacks, a figure format the
plotting code cannot write, more folds than patients) would otherwise pass the dry run and fail hours
later, after every slide is featurised. So the Snakefile hands the merged config to
:func:`checked_run_config`, which parses each section into its settings dataclass (the one source of
defaults and allowed values), checks every name against the registries (the options of every model
under ``training.model_options``, trained or not) and every slide id against the cohort, the folds
against what training asks of them (:mod:`crossfusion_core.fold_checks`) and a TCGA cohort's slides
already on disk (:mod:`crossfusion_core.tcga.slide_store`), and raises one :class:`PipelineInputError`
naming the file that set the bad value (see :mod:`crossfusion_core.config_origins`), the key and a fix.
A ``deploy`` section is checked the same way: the target cohort's config (:mod:`crossfusion_core.deploy.
target_config`) as a cohort of its own, then whether the trained models fit it
(:mod:`crossfusion_core.deploy.compatibility`).

Only torch-free modules are imported here: importing torch would add seconds to every dry run.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from crossfusion_core.cohort import Cohort, CohortDataset, CohortSlide, SlideSettings, cohort
from crossfusion_core.config_origins import ConfigOrigins, KeyPath
from crossfusion_core.deploy.compatibility import TrainedModel, check_models_from, trained_models
from crossfusion_core.deploy.settings import DeploySettings
from crossfusion_core.deploy.target_config import target_config
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.features.backbones import BACKBONES
from crossfusion_core.features.settings import FeatureSettings
from crossfusion_core.fold_checks import check_folds
from crossfusion_core.pipeline_config import PipelineConfig
from crossfusion_core.plots.settings import HeatmapSettings, KmSettings
from crossfusion_core.settings import MISSING, SettingsError
from crossfusion_core.synthetic.dataset import SyntheticDataset
from crossfusion_core.synthetic.settings import SyntheticSettings
from crossfusion_core.tcga.dataset import TcgaDataset
from crossfusion_core.tcga.slide_store import check_placed_slides
from crossfusion_core.training.settings import TrainingSettings
from crossfusion_core.wsi.settings import PatchingSettings, SegmentationSettings


@dataclass(frozen=True)
class RunConfig:
    """The checked config of one run: each section as its settings, the slides the run covers and
    those ``slides.exclude`` leaves out (their patients are listed in ``qc/excluded.csv``)."""

    cohort_name: str
    dataset: CohortDataset
    synthetic: SyntheticSettings
    slides: tuple[CohortSlide, ...]
    excluded_slides: tuple[CohortSlide, ...]
    slide_settings: SlideSettings
    segmentation: SegmentationSettings
    patching: PatchingSettings
    features: FeatureSettings
    training: TrainingSettings
    evaluation: EvaluationSettings
    km: KmSettings
    heatmaps: HeatmapSettings
    deployment: Deployment | None = None

    @property
    def dataset_kind(self) -> str:
        return self.dataset.kind

    @property
    def splits_dir(self) -> str | None:
        """The study's fold files, when the cohort has them (else folds are drawn from a seed)."""
        return None if self.dataset.splits_dir is None else str(self.dataset.splits_dir)

    @property
    def has_survival(self) -> bool:
        """Whether the cohort has survival data (only a deployment target may go without)."""
        return self.dataset.has_survival

    @property
    def slide_ids(self) -> list[str]:
        """The ``slide`` wildcard values, exclusions applied, in the dataset's order."""
        return [slide.slide_id for slide in self.slides]

    def slide_file(self, slide_id: str) -> str:
        """Where the slide's file is (or will be, once downloaded or generated)."""
        return str(self._by_id[slide_id].path)

    def mpp_override(self, slide_id: str) -> float | None:
        """The level-0 mpp given in the config (first) or the slide sheet, else None: trust the header."""
        configured = self.slide_settings.mpp_override.get(slide_id)
        return configured if configured is not None else self._by_id[slide_id].mpp

    @functools.cached_property
    def _by_id(self) -> dict[str, CohortSlide]:
        """Built once: input functions ask for one slide per job, thousands of times per DAG."""
        return _slides_by_id(self.slides)


@dataclass(frozen=True)
class Deployment:
    """The run's models applied to another cohort (the ``deploy`` section): its checked settings, the
    target's checked config and its merged config (what the target's own rules take as params), and
    where the trained models are (``results/{cohort}``, or ``deploy.models_from``)."""

    settings: DeploySettings
    target: RunConfig
    target_config: Mapping[str, Any]
    models_root: Path

    @property
    def trained_here(self) -> bool:
        """Whether this run trains the models it deploys (else they come from ``models_from``)."""
        return self.settings.models_from is None

    def trained_models(self, training: TrainingSettings, model: str, backbone: str) -> list[TrainedModel]:
        """The checkpoints (and reference risks) deployed for ``model`` on ``backbone``."""
        return trained_models(self.models_root, model, backbone, self.settings.weights, training.n_fold_runs)


def checked_run_config(config: Mapping[str, Any], origins: ConfigOrigins, synthetic_dir: str) -> RunConfig:
    """The run's settings from the merged ``config``; the first problem found raises, naming its file.

    ``synthetic_dir`` is where generated slides go, with ``{cohort}`` for the cohort's name.
    """
    settings = parsed_config(config, origins)
    run = _cohort_run_config(settings, origins, synthetic_dir)
    if not run.has_survival:
        raise origins.error(
            ("dataset",),
            "no clinical_table: a cohort that is trained needs survival",
            "give dataset.clinical_table; only a deployment target (deploy.target) may go without",
        )
    check_folds(settings.dataset, settings.synthetic, run.slides, run.training, origins)
    if settings.deploy is None:
        return run
    deployment = _checked_deployment(config, settings, run, origins, synthetic_dir)
    return dataclasses.replace(run, deployment=deployment)


def parsed_config(config: Mapping[str, Any], origins: ConfigOrigins) -> PipelineConfig:
    """The merged config as its model; a refused value raises, naming the file that set it."""
    try:
        return PipelineConfig.from_mapping(config)
    except SettingsError as error:
        key = error.key or ("(top level)",)
        set_at = key[:-1] if error.problem == MISSING and len(key) > 1 else None
        raise origins.error(key, error.problem, error.fix, set_at=set_at) from None


def target_run_config(config: Mapping[str, Any], synthetic_dir: str) -> RunConfig:
    """The deployment target's settings, rebuilt from its merged config by the Snakemake module that
    runs its per-slide stages (rules/deploy_target.smk): a module shares no variables with the main
    Snakefile, whose :func:`checked_run_config` already checked this very config, naming its files."""
    return _cohort_run_config(PipelineConfig.from_mapping(config), ConfigOrigins(()), synthetic_dir)


def _cohort_run_config(settings: PipelineConfig, origins: ConfigOrigins, synthetic_dir: str) -> RunConfig:
    """The files the config names and every slide id checked: what any cohort needs, trained or not."""
    _check_feature_files(settings.features, origins)
    listed = _checked_cohort(settings, origins, synthetic_dir.format(cohort=settings.cohort))
    slides = _included_slides(listed, settings.slides, settings.heatmaps, origins)
    if isinstance(settings.dataset, TcgaDataset):
        check_placed_slides(settings.dataset, [slide.slide_id for slide in slides])
    return RunConfig(
        cohort_name=settings.cohort,
        dataset=settings.dataset,
        synthetic=settings.synthetic,
        slides=slides,
        excluded_slides=tuple(slide for slide in listed.slides if slide.slide_id in settings.slides.exclude),
        slide_settings=settings.slides,
        segmentation=settings.segmentation,
        patching=settings.patching,
        features=settings.features,
        training=settings.training,
        evaluation=settings.evaluation,
        km=settings.km,
        heatmaps=settings.heatmaps,
    )


def _checked_deployment(
    config: Mapping[str, Any],
    settings: PipelineConfig,
    run: RunConfig,
    origins: ConfigOrigins,
    synthetic_dir: str,
) -> Deployment:
    """The target cohort checked as a cohort of its own (its file named in its errors), then against the
    trained models: the checkpoints of ``models_from``, or the config the models are trained under here."""
    deploy = settings.deploy
    target_file = _target_file(deploy.target, origins)
    target_origins = ConfigOrigins(
        (*origins.layers, *ConfigOrigins.from_sources(None, [deploy.target]).layers)
    )
    merged = target_config(config, target_file)
    target_settings = parsed_config(merged, target_origins)
    target = _cohort_run_config(target_settings, target_origins, synthetic_dir)
    _check_distinct_cohorts(settings, target_settings, deploy.target)
    deployment = Deployment(deploy, target, merged, deploy.models_from or Path(f"results/{run.cohort_name}"))
    if deployment.trained_here:
        _check_trained_here(run, target, deploy, origins, target_origins)
    else:
        _check_models_from(run, deployment)
    return deployment


def _target_file(path: Path, origins: ConfigOrigins) -> Mapping[str, Any]:
    if not path.is_file():
        raise origins.error(
            ("deploy", "target"),
            f"{path} does not exist",
            "name the cohort config file of the slides to deploy on (relative to the run folder)",
        )
    loaded = yaml.safe_load(path.read_text())
    if not isinstance(loaded, Mapping) or "deploy" in loaded:
        raise PipelineInputError(
            path,
            "not a cohort config (a mapping of config sections without its own `deploy`)",
            "see config/cohorts/ for examples",
        )
    return loaded


def _check_distinct_cohorts(trained: PipelineConfig, target: PipelineConfig, target_file: Path) -> None:
    """The target must be another cohort: another results folder, and not the trained slides again
    (what the target's file leaves out it inherits, so its file is where either is fixed)."""
    if target.cohort == trained.cohort:
        raise PipelineInputError(
            target_file,
            f"the deployment target is named {target.cohort!r}, as the trained cohort",
            "give the target its own `cohort` name (its results land in results/{name}/)",
        )
    same_slides = trained.dataset == target.dataset and (
        not isinstance(trained.dataset, SyntheticDataset) or trained.synthetic == target.synthetic
    )
    if same_slides:
        raise PipelineInputError(
            target_file,
            "the deployment target lists the trained cohort's own slides",
            "give the target its own `dataset` (or, for a synthetic cohort, another synthetic.seed)",
        )


def _check_trained_here(
    run: RunConfig,
    target: RunConfig,
    settings: DeploySettings,
    origins: ConfigOrigins,
    target_origins: ConfigOrigins,
) -> None:
    """Models trained in this run will read the target's features of each trained backbone: the target
    must extract those backbones with the same weights, and a final model must be trained to be used."""
    if settings.weights == "final" and not run.training.final_model:
        raise origins.error(
            ("deploy", "weights"),
            "weights: final deploys the model trained on all patients, and training.final_model is false",
            "set training.final_model: true, or deploy the ensemble of the fold models (weights: ensemble)",
        )
    missing = [name for name in run.features.backbones if name not in target.features.backbones]
    if missing:
        raise target_origins.error(
            ("features", "backbones"),
            f"the models are trained on {list(run.features.backbones)} features "
            f"({_label(origins, ('features', 'backbones'))}), but the deployment target lists "
            f"{list(target.features.backbones)}",
            "leave features.backbones out of the target's file: it is extracted with the trained backbones",
        )
    for name in run.features.backbones:
        if run.features.weights.get(name) != target.features.weights.get(name):
            raise target_origins.error(
                ("features", "weights", name),
                f"the models are trained on {name} features from weights {run.features.weights.get(name)} "
                f"({_label(origins, ('features', 'weights', name))}), but the deployment target's are from "
                f"{target.features.weights.get(name)}",
                "leave features.weights out of the target's file",
            )


def _check_models_from(run: RunConfig, deployment: Deployment) -> None:
    """Every deployed checkpoint exists and fits the target's features (backbone, width, scales)."""
    target_label = f"{deployment.target.cohort_name}, {deployment.settings.target}"
    for model in run.training.models:
        for backbone in run.features.backbones:
            dim = None if deployment.target.features.external is not None else BACKBONES[backbone].dim
            models = deployment.trained_models(run.training, model, backbone)
            check_models_from(models, model, backbone, dim, target_label)


def _label(origins: ConfigOrigins, key: KeyPath) -> str:
    layer = origins.origin(key)
    return layer.label if layer is not None else "the default"


def _check_feature_files(features: FeatureSettings, origins: ConfigOrigins) -> None:
    """The checkpoints and external feature folders the section names exist (names are the section's)."""
    for name, path in features.weights.items():
        if not path.is_file():
            raise origins.error(
                ("features", "weights", name),
                f"the checkpoint {path} does not exist",
                "give the path of the downloaded weights file, relative to the run folder or absolute",
            )
    if features.external is not None:
        for magnification, folder in features.external.dirs.items():
            if not folder.is_dir():
                raise origins.error(
                    ("features", "external", "dirs"),
                    f"the {magnification}x feature folder {folder} does not exist",
                    "give the folders of your CLAM/TRIDENT h5 files per magnification",
                )


def _checked_cohort(settings: PipelineConfig, origins: ConfigOrigins, synthetic_dir: str) -> Cohort:
    """The dataset's slides; the files the dataset names are checked first."""
    dataset = settings.dataset
    _check_source_files(dataset, origins)
    try:
        listed = cohort(dataset, settings.synthetic, synthetic_dir)
    except PipelineInputError as error:
        if error.path is not None:
            raise  # a problem inside a slide list or table: its message names that file and line
        section = "synthetic" if isinstance(dataset, SyntheticDataset) else "dataset"
        raise origins.error((section,), error.problem, error.fix) from None
    if not listed.slides:
        raise origins.error(
            ("dataset",), f"the cohort has no slide: {_why_empty(dataset)}", _empty_fix(dataset)
        )
    return listed


SOURCE_FILES = ("manifest", "survival_table", "slide_sheet", "clinical_table", "token_file")
SOURCE_FOLDERS = ("splits_dir",)


def _check_source_files(dataset: CohortDataset, origins: ConfigOrigins) -> None:
    """The files and folders the dataset's kind names (``data_dir`` is made by the downloads)."""
    given = {key: value for key, value in dataset if value is not None}
    for key in SOURCE_FILES:
        if key in given and not given[key].is_file():
            raise origins.error(
                ("dataset", key), f"{given[key]} does not exist", "give a path relative to the run folder"
            )
    for key in SOURCE_FOLDERS:
        if key in given and not given[key].is_dir():
            raise origins.error(
                ("dataset", key),
                f"folder {given[key]} does not exist",
                "give a path relative to the run folder",
            )


def _why_empty(dataset: CohortDataset) -> str:
    if not isinstance(dataset, TcgaDataset):
        return "the slide list is empty"
    from crossfusion_core.tcga.manifest import diagnostic_slides

    selection = diagnostic_slides(dataset.manifest, dataset.slide_pattern)
    if selection.slides:
        return (
            f"none of the {len(selection.slides)} diagnostic slides of {dataset.manifest} is in "
            f"{dataset.survival_table}"
        )
    return f"{dataset.manifest} ({selection.summary()}; dataset.slide_pattern is {dataset.slide_pattern!r})"


def _empty_fix(dataset: CohortDataset) -> str:
    if isinstance(dataset, TcgaDataset):
        return (
            "download the manifest of the project's diagnostic slides from the GDC portal (Slide Image, "
            "Diagnostic Slide), check dataset.slide_pattern, or set fill_missing_from_gdc: true"
        )
    return "list at least one slide"


def _included_slides(
    listed: Cohort, settings: SlideSettings, heatmaps: HeatmapSettings, origins: ConfigOrigins
) -> tuple[CohortSlide, ...]:
    """The listed slides without ``slides.exclude``; every slide id the config names must be listed."""
    known = _slides_by_id(listed.slides)
    for key, names in (
        (("slides", "exclude"), settings.exclude),
        (("slides", "mpp_override"), settings.mpp_override),
        (("heatmaps", "slides"), heatmaps.slides),
    ):
        _check_slide_ids(origins, key, names, known, listed.listed_in)
    excluded_ids = set(settings.exclude)
    slides = tuple(slide for slide in listed.slides if slide.slide_id not in excluded_ids)
    if not slides:
        raise origins.error(
            ("slides", "exclude"),
            "every slide of the cohort is excluded",
            "leave at least one slide in the run",
        )
    excluded = [name for name in heatmaps.slides if name in excluded_ids]
    if excluded:
        raise origins.error(
            ("heatmaps", "slides"),
            f"{excluded} are excluded (slides.exclude)",
            "paint only slides of the run",
        )
    return slides


def _check_slide_ids(
    origins: ConfigOrigins,
    key: KeyPath,
    names: Iterable[str],
    known: Mapping[str, CohortSlide],
    listed_in: str,
) -> None:
    unknown = [name for name in names if name not in known]
    if unknown:
        raise origins.error(
            key,
            f"{unknown[:10]} {'is' if len(unknown) == 1 else 'are'} not slide(s) of the cohort ({listed_in})",
            _slide_fix(unknown[0], known),
        )


def _slide_fix(name: str, known: Iterable[str]) -> str:
    """A close slide id if there is one, and a few real ones: slide ids are names, not file names."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return (f"did you mean {close[0]!r}? " if close else "") + (
        f"use slide ids as the cohort lists them (e.g. {known[:3]}), not file names"
    )


def _slides_by_id(slides: Sequence[CohortSlide]) -> dict[str, CohortSlide]:
    return {slide.slide_id: slide for slide in slides}
