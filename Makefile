# wwpdb.apps.msgmodule: every target installs what it needs into a local virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
DEMO_DIR ?= msgmodule-data/demo
PYTEST_ARGS ?=
MSGMODULE := $(BIN)/msgmodule
FORCE_FLAG := $(if $(filter 1 yes true,$(FORCE)),--force,)

.PHONY: help install test demo lint tox clean backend-info feature-flags health reconcile \
	backend-cif-only backend-shadow backend-db-only backend-dual-write-cif-read backend-dual-write-db-read \
	migration-phase-1 migration-phase-2 migration-phase-3 backend-migration-guide

help:  ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

$(VENV)/.installed: setup.py pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install the package with its test tools

test: install  ## run the whole test suite (MySQL tests run when a server answers)
	$(PY) -m pytest $(PYTEST_ARGS)

demo: install  ## build a small archive from the project's example files and show it
	rm -rf $(DEMO_DIR)
	mkdir -p $(DEMO_DIR)
	cp -r wwpdb/apps/tests-msgmodule/test_data/archive $(DEMO_DIR)/archive
	MSGCIF_ROOT=$(DEMO_DIR)/archive $(BIN)/msgmodule show

lint: install  ## ruff and mypy
	$(BIN)/ruff check wwpdb scripts benchmarks
	$(BIN)/mypy

tox: install  ## run the suite on every Python from 3.10 to 3.13 found here, plus lint
	PATH="$$(for v in $$(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[0-3]\.'); do printf '%s:' "$$(pyenv root)/versions/$$v/bin"; done)$$PATH" $(BIN)/tox

backend-info: install  ## show stage, flags, backends (password masked) and counters
	$(MSGMODULE) backend-info

feature-flags: install  ## show the four flags, the stage they make, and all stages
	$(MSGMODULE) feature-flags

health: install  ## connect to every enabled backend; fails unless all answer
	$(MSGMODULE) health

reconcile: install  ## re-copy journaled documents from the authoritative backend
	$(MSGMODULE) reconcile

backend-cif-only: install  ## stage cif-only: CIF only
	$(MSGMODULE) stage cif-only $(FORCE_FLAG)

backend-shadow: install  ## stage shadow: write CIF then DB, read CIF and compare with DB
	$(MSGMODULE) stage shadow $(FORCE_FLAG)

backend-db-only: install  ## stage db-only (FORCE=1 to override the safety checks)
	$(MSGMODULE) stage db-only $(FORCE_FLAG)

backend-dual-write-cif-read: migration-phase-1  ## stage dual-write (same as migration-phase-1)

backend-dual-write-db-read: migration-phase-2  ## stage db-primary (same as migration-phase-2)

migration-phase-1: install  ## stage dual-write: write CIF then DB, read CIF
	$(MSGMODULE) stage dual-write $(FORCE_FLAG)

migration-phase-2: install  ## stage db-primary: write DB then CIF, read DB (needs a passed validation)
	$(MSGMODULE) stage db-primary $(FORCE_FLAG)

migration-phase-3: install  ## stage db-only: DB only (needs a passed validation)
	$(MSGMODULE) stage db-only $(FORCE_FLAG)

backend-migration-guide: install  ## print the step-by-step migration walkthrough
	$(MSGMODULE) migration-guide

clean:  ## remove the virtualenv, demo data and caches
	rm -rf $(VENV) $(DEMO_DIR) .tox .pytest_cache .mypy_cache .ruff_cache *.egg-info
