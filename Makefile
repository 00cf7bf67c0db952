# wwpdb.apps.msgmodule: every target installs what it needs into a local virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
DEMO_DIR ?= msgmodule-data/demo
PYTEST_ARGS ?=

.PHONY: help install test demo lint tox clean

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

clean:  ## remove the virtualenv, demo data and caches
	rm -rf $(VENV) $(DEMO_DIR) .tox .pytest_cache .mypy_cache .ruff_cache *.egg-info
