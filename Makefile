# wwpdb.apps.msgmodule: every target installs what it needs into a local virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
DEMO_DIR ?= msgmodule-data/demo
PYTEST_ARGS ?=
MSGMODULE := $(BIN)/msgmodule
FORCE_FLAG := $(if $(filter 1 yes true,$(FORCE)),--force,)

.PHONY: help install test demo bench lint tox clean backend-info feature-flags health reconcile \
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

DEMO_CFG := $(DEMO_DIR)/msgmodule.cfg
DEMO_ENV := MSGMODULE_CONFIG=$(DEMO_CFG)

demo: install  ## build a small archive from the example files, migrate it into SQLite, validate, show
	rm -rf $(DEMO_DIR)
	mkdir -p $(DEMO_DIR)
	cp -r wwpdb/apps/tests-msgmodule/test_data/archive $(DEMO_DIR)/archive
	$(PY) -c "from pathlib import Path; from wwpdb.apps.msgmodule.synthetic import generate_archive; \
		generate_archive(Path('$(DEMO_DIR)/archive'), 20)"
	printf '[msgmodule]\nMSGCIF_ROOT = %s\nMSGDB_URL = sqlite:///%s\nMSGMODULE_STATE_DIR = %s\n' \
		"$(CURDIR)/$(DEMO_DIR)/archive" "$(CURDIR)/$(DEMO_DIR)/messaging.db" "$(CURDIR)/$(DEMO_DIR)/state" > $(DEMO_CFG)
	$(DEMO_ENV) $(MSGMODULE) show D_1000000001 G_1000003
	$(DEMO_ENV) $(PY) scripts/init_messaging_database.py
	$(DEMO_ENV) $(PY) scripts/migrate_cif_to_db.py --report $(DEMO_DIR)/migrate.json
	$(DEMO_ENV) $(PY) scripts/migrate_cif_to_db.py
	$(DEMO_ENV) $(PY) scripts/validate_migration.py
	$(DEMO_ENV) $(MSGMODULE) stage dual-write
	$(DEMO_ENV) $(MSGMODULE) health
	$(DEMO_ENV) $(MSGMODULE) backend-info
	@echo "The demo's settings are in $(DEMO_CFG); use them with: $(DEMO_ENV) $(MSGMODULE) backend-info"

BENCH_ARGS ?=
bench: install  ## migration/read speed and memory vs baselines; figures in bench-results/
	$(PY) benchmarks/bench.py $(BENCH_ARGS)
	$(PY) benchmarks/dual_write_latency.py --json bench-results/dual-write-latency.json

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
