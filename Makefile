# Two commands do everything: `make serve` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
# Trust the system's certificate store too (corporate proxies add their roots there).
export UV_SYSTEM_CERTS ?= 1
PYTHON ?= python3
export UV_PYTHON := $(PYTHON)
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
DATABASE_URL ?= sqlite:///var/relaydesk.db
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help install serve test lint typecheck unit bench

help:
	@echo "make serve   install, migrate and run the hub with the demo workspace on http://$(HOST):$(PORT)"
	@echo "make test    install and run every check (lint, types, tests)"

$(CURDIR)/.tools/bin/uv:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Relaydesk needs Python >= 3.11 (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet uv

install: | $(UV)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Relaydesk needs Python >= 3.11 (found " + sys.version.split()[0] + ")")'
	$(UV) sync --frozen --quiet

serve: install
	$(UV) run relaydesk demo --workspace examples/demo-workspace.yaml --database-url "$(DATABASE_URL)" --host $(HOST) --port $(PORT)

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck: install
	$(UV) run mypy

unit: install
	$(UV) run pytest

test: lint typecheck unit

bench: install
	$(UV) run python bench/ingest.py
