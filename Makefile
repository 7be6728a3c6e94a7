# cryptotrack — the two commands of the quick start are `make run` and `make test`.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PY := .venv/bin/python
PORT ?= 8000

.PHONY: help install run test lint typecheck migrations-check pytest bench format

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install:  ## create .venv with the locked dependencies
	@./scripts/bootstrap.sh

run: install  ## serve the whole service on the embedded default (SQLite, no Redis, simulators)
	@PORT=$(PORT) $(PY) -m cryptotrack.launcher

test: install  ## lint, type-check, check migrations and run the whole suite on PostgreSQL + Redis
	@./scripts/with-services.sh $(MAKE) --no-print-directory lint typecheck migrations-check pytest

lint:  ## ruff lint and format check
	@.venv/bin/ruff check src tests bench
	@.venv/bin/ruff format --check src tests bench

format:  ## apply ruff's formatting and safe fixes
	@.venv/bin/ruff check --fix src tests bench
	@.venv/bin/ruff format src tests bench

typecheck:  ## mypy with django-stubs
	@.venv/bin/mypy src

migrations-check:  ## fail when a model change has no migration
	@$(PY) -m cryptotrack makemigrations --check --dry-run >/dev/null || \
		(echo "Missing migrations: run '$(PY) -m cryptotrack makemigrations'" >&2; exit 1)

pytest:
	@$(PY) -m pytest $(PYTEST_ARGS)

bench: install  ## run the benchmarks in bench/ (see bench/README.md)
	@./scripts/with-services.sh $(PY) -m bench $(BENCH_ARGS)
