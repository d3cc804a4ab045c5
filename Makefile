# The two set-up commands of README.md: `make demo` and `make test`.
# Each creates (or reuses) the virtual environment in .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint install

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Run the main job on embedded defaults (demo data -> validate -> load -> features -> summary).
demo: $(STAMP)
	$(VENV)/bin/tiering demo

## Run the whole test suite (starts the local PostgreSQL server when it is not running).
test: $(STAMP)
	bash scripts/ensure-system-packages.sh
	bash scripts/ensure-services.sh
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
