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
	feature-flags-enable feature-flags-disable status troubleshoot resync \
	backend-cif-only backend-shadow backend-db-only backend-dual-write-cif-read backend-dual-write-db-read \
	migration-phase-1 migration-phase-2 migration-phase-3 backend-migration-guide

help:  ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort
	@printf '\nNot provided: deploy, deploy-dev, deploy-staging, deploy-production, ci-deploy. Deploying needs a\n'
	@printf "site's own infrastructure (hosts, credentials, its OneDep installation), outside this library.\n"

$(VENV)/.installed: setup.py pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install the package with its test tools

# The suite runs without the installation's settings (MSGMODULE_CONFIG, MSGCIF_ROOT, MSGMODULE_STATE_DIR...):
# its tests make their own sites, so no test reads or writes an installation's state or log.
TEST_CONTROLS := MSGMODULE_SAMPLES MSGMODULE_REQUIRE_MYSQL MSGMODULE_TEST_MYSQL_URL
# The tests run on TEST_WORKERS processes (pytest-xdist; 0: all in this one process).
TEST_WORKERS ?= 2
PYTEST := env $(foreach v,$(filter-out $(TEST_CONTROLS),$(filter MSGCIF_% MSGDB_% MSGMODULE_% WWPDB_SITE_ID,$(.VARIABLES))),-u $(v)) \
	$(PY) -m pytest -n $(TEST_WORKERS)

test: install  ## run the whole test suite (MySQL tests run when a server answers)
	$(PYTEST) $(PYTEST_ARGS)

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
BENCH_MYSQL_URL ?= mysql+pymysql://root@127.0.0.1:3306
bench: install  ## speed and memory vs baselines (MariaDB at BENCH_MYSQL_URL, skipped if absent); bench-results/
	$(PY) benchmarks/bench.py --mysql-url "$(BENCH_MYSQL_URL)" $(BENCH_ARGS)
	$(PY) benchmarks/dual_write_latency.py --mysql-url "$(BENCH_MYSQL_URL)" --json bench-results/dual-write-latency.json
	$(PY) benchmarks/breaker_latency.py --json bench-results/breaker-latency.json
	$(PY) benchmarks/frozen_database.py --json bench-results/frozen-database.json
	$(PY) benchmarks/stage_check.py --json bench-results/stage-check.json
	$(PY) benchmarks/adopt_onedep.py --mysql-url "$(BENCH_MYSQL_URL)" --json bench-results/adopt-onedep.json
	$(PY) benchmarks/web_messages_view.py --json bench-results/web-messages-view.json
	$(PY) benchmarks/web_load.py --mysql-url "$(BENCH_MYSQL_URL)" --json bench-results/web-load.json
	$(PY) benchmarks/onedep_view.py --json bench-results/onedep-view.json
	$(PY) benchmarks/rollback_export.py --mysql-url "$(BENCH_MYSQL_URL)" --json bench-results/rollback-export.json
	$(PY) benchmarks/page_cost.py --mysql-url "$(BENCH_MYSQL_URL)" --json bench-results/page-cost.json
	$(PY) benchmarks/issue_figures.py bench-results

lint: install  ## ruff and mypy
	$(BIN)/ruff check wwpdb scripts benchmarks
	$(BIN)/mypy

tox: install  ## run the suite on every Python from 3.10 to 3.13 found here, plus lint
	PATH="$$(for v in $$(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[0-3]\.'); do printf '%s:' "$$(pyenv root)/versions/$$v/bin"; done)$$PATH" $(BIN)/tox

backend-info: install  ## show stage, flags, backends (password masked) and counters
	$(MSGMODULE) backend-info

feature-flags: install  ## show the four flags, the stage they make, and all stages
	$(MSGMODULE) feature-flags

feature-flags-enable: install  ## FLAG=name: turn a flag on, as a guarded stage move (FORCE=1 as for the stage targets)
	@test -n "$(FLAG)" || { echo "usage: make feature-flags-enable FLAG=database_writes_enabled" >&2; exit 2; }
	$(MSGMODULE) feature-flags-enable "$(FLAG)" $(FORCE_FLAG)

feature-flags-disable: install  ## FLAG=name: turn a flag off, as a guarded stage move
	@test -n "$(FLAG)" || { echo "usage: make feature-flags-disable FLAG=database_reads_enabled" >&2; exit 2; }
	$(MSGMODULE) feature-flags-disable "$(FLAG)" $(FORCE_FLAG)

status: install  ## stage, epoch, journal, last validation, breakers, depositions and messages per store
	$(MSGMODULE) status

troubleshoot: install  ## settings and their sources, versions, connectivity, journal, validation, and the usual fixes
	$(MSGMODULE) troubleshoot

resync: install  ## IDS="D_1 D_2": replace the differing documents of these depositions from the authoritative store, verified
	@test -n "$(IDS)" || { echo "usage: make resync IDS='D_1000000001 D_1000000002'" >&2; exit 2; }
	$(MSGMODULE) resync $(IDS)

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

# -- operator and developer toolkit -----------------------------------------------------------------
# Tests by kind: conftest.py gives every test its markers (unit, integration, database, mysql);
# unit + integration + database select the whole suite.
.PHONY: install-dev dev-setup dev-test dev-commit ci-test test-unit test-integration test-database \
	test-coverage test-tox validate validate-integration validate-config format check-format security \
	docs serve-docs docs-check logs metrics monitor serve backup restore breaker-reset

HOOKS_DIR ?= $(shell git rev-parse --git-path hooks 2>/dev/null)
FORMAT_PATHS ?= wwpdb scripts benchmarks
COV_DIR ?= htmlcov
DOCS_CONFIG ?= mkdocs.yml
DOCS_SITE ?= site
DOCS_ADDR ?= 127.0.0.1:8000
LOG_LINES ?= 50
MONITOR_HOST ?= 127.0.0.1
MONITOR_PORT ?= 9464
BACKUP_DIR ?= backups
CONFIG ?=
AUDIT_ARGS ?=
SECURITY_PATHS ?= wwpdb/apps/msgmodule scripts

install-dev: install  ## install with every development tool: tests, coverage, lint, security, docs, build
	$(PY) -m pip check

dev-setup: install-dev  ## install-dev, plus a git pre-commit hook running check-format and lint (HOOKS_DIR=...)
	@test -n "$(HOOKS_DIR)" || { echo "not a git checkout: say where hooks go with HOOKS_DIR=..." >&2; exit 1; }
	mkdir -p "$(HOOKS_DIR)"
	printf '#!/bin/sh\n# installed by make dev-setup: the format and lint checks before every commit\nexec make -C "%s" --no-print-directory check-format lint\n' "$(CURDIR)" > "$(HOOKS_DIR)/pre-commit"
	chmod +x "$(HOOKS_DIR)/pre-commit"
	@echo "pre-commit hook installed at $(HOOKS_DIR)/pre-commit"

dev-test: install  ## the fast subset: unit tests that are not slow, stopping at the first failure
	$(PYTEST) -m "unit and not slow" -x -q $(PYTEST_ARGS)

dev-commit: check-format lint dev-test  ## before a commit: check-format, lint and dev-test

ci-test: install  ## what CI runs: .ci/run (starts MariaDB if needed, the whole suite, MySQL tests required)
	bash .ci/run

test-unit: install  ## unit tests: no database server needed (SQLite and files only)
	$(PYTEST) -m unit $(PYTEST_ARGS)

test-integration: install  ## integration tests: command line, worker processes, HTTP, packaging
	$(PYTEST) -m integration $(PYTEST_ARGS)

test-database: install  ## database tests: the SQLite and MySQL/MariaDB stores and tools
	$(PYTEST) -m database $(PYTEST_ARGS)

test-coverage: install  ## the suite under pytest-cov: the total on screen, an HTML report in COV_DIR
	$(PYTEST) --cov=wwpdb.apps.msgmodule --cov-report=term --cov-report=html:$(COV_DIR) $(PYTEST_ARGS)
	@echo "HTML coverage report: $(COV_DIR)/index.html"

test-tox: tox  ## the suite on every Python 3.10-3.13 found here, plus lint (same as make tox)

validate: validate-integration lint security  ## validate-integration, lint and security

validate-integration: install  ## check the configured installation end to end (scripts/validate_integration.py)
	$(PY) scripts/validate_integration.py

validate-config: install  ## check a config file (CONFIG=file, else MSGMODULE_CONFIG or ./msgmodule.cfg)
	$(MSGMODULE) validate-config $(CONFIG)

format: install  ## rewrite the code with ruff format (FORMAT_PATHS=...)
	$(BIN)/ruff format $(FORMAT_PATHS)

check-format: install  ## check the code's format with ruff format, changing nothing
	$(BIN)/ruff format --check $(FORMAT_PATHS)

security: install  ## bandit on the code, then pip-audit of the dependencies (needs the network; one line when offline)
	$(BIN)/bandit -q -c pyproject.toml -r $(SECURITY_PATHS)
	@echo "bandit: no issues in $(SECURITY_PATHS)"
	$(PY) scripts/audit_dependencies.py $(AUDIT_ARGS)

docs: install  ## build the documentation (README sections, operator guide, API reference) into DOCS_SITE
	$(BIN)/mkdocs build --clean -f $(DOCS_CONFIG) --site-dir $(abspath $(DOCS_SITE))

serve-docs: install  ## serve the documentation at http://DOCS_ADDR until stopped
	$(BIN)/mkdocs serve -f $(DOCS_CONFIG) -a $(DOCS_ADDR)

docs-check: install  ## build the documentation strictly: a broken link or reference fails
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && $(BIN)/mkdocs build --strict -f $(DOCS_CONFIG) --site-dir "$$tmp"

logs: install  ## the last LOG_LINES lines of the library's log (msgmodule.log in the state directory)
	$(MSGMODULE) logs -n $(LOG_LINES)

metrics: install  ## print the counters, circuit breakers and journal in Prometheus text format
	$(MSGMODULE) metrics

BREAKER ?= all
breaker-reset: install  ## clear the recorded circuit breaker state of BREAKER=db, cif or all (the default)
	$(MSGMODULE) breaker reset $(BREAKER)

SERVE_HOST ?= 127.0.0.1
SERVE_PORT ?= 8080
SERVE_WORKERS ?= 2
serve: install  ## the messaging web service on gunicorn at SERVE_HOST:SERVE_PORT (front end: MSGMODULE_WEB_TEMPLATE_DIR)
	$(MSGMODULE) serve --host $(SERVE_HOST) --port $(SERVE_PORT) --workers $(SERVE_WORKERS)

monitor: install  ## serve the metrics at http://MONITOR_HOST:MONITOR_PORT/metrics until stopped
	$(MSGMODULE) monitor --host $(MONITOR_HOST) --port $(MONITOR_PORT)

backup: install  ## back up config, state folders and database into BACKUP_DIR/msgmodule-backup-<time>
	$(MSGMODULE) backup --output-dir $(BACKUP_DIR)

restore: install  ## restore BACKUP=dir (same schema revision only; stop the writers first)
	@test -n "$(BACKUP)" || { echo "say which backup: make restore BACKUP=backups/msgmodule-backup-..." >&2; exit 2; }
	$(MSGMODULE) restore --yes $(BACKUP)
