# cryptotrack — the two commands of the quick start are `make run` and `make test`.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PY := .venv/bin/python
PORT ?= 8000

.PHONY: help install run sim-key manage test lint typecheck migrations-check pytest bench format newman postman

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install:  ## create .venv with the locked dependencies
	@./scripts/bootstrap.sh

run: install  ## serve the whole service on the embedded default (SQLite, no Redis, simulators)
	@PORT=$(PORT) $(PY) -m cryptotrack.launcher

sim-key: install  ## register a new KuCoin key with the running `make run`'s simulator and print it
	@$(PY) -m cryptotrack sim_key

manage: install  ## Django's manage.py without activating .venv: make manage ARGS="createsuperuser"
	@$(PY) -m cryptotrack $(ARGS)

test: install  ## lint, type-check, check migrations and run the whole suite on PostgreSQL + Redis
	@./scripts/with-services.sh $(MAKE) --no-print-directory lint typecheck migrations-check pytest

lint:  ## ruff lint and format check
	@.venv/bin/ruff check src tests bench scripts
	@.venv/bin/ruff format --check src tests bench scripts

format:  ## apply ruff's formatting and safe fixes
	@.venv/bin/ruff check --fix src tests bench scripts
	@.venv/bin/ruff format src tests bench scripts

typecheck:  ## mypy with django-stubs
	@.venv/bin/mypy src

migrations-check:  ## fail when a model change has no migration
	@$(PY) -m cryptotrack makemigrations --check --dry-run >/dev/null || \
		(echo "Missing migrations: run '$(PY) -m cryptotrack makemigrations'" >&2; exit 1)

# Two pytest processes (pytest-xdist), each with a test database, Celery queue and cache
# prefix of its own (tests/conftest.py); a module stays on one of them (--dist loadfile), so
# its module-scoped servers start once. Most of the suite's time is tests waiting on
# processes and timers, not CPU: two halve it on a 2-core machine. PYTEST_WORKERS=0: one.
PYTEST_WORKERS ?= 2
pytest:
	@$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: install  ## run the benchmarks in bench/ (see bench/README.md)
	@./scripts/with-services.sh $(PY) -m bench $(BENCH_ARGS)

# newman (Postman's command-line runner) from the npm registry, kept in .tools/ (gitignored).
# tests/test_production_topology.py runs the collection with it against the real topology.
NEWMAN_VERSION := 6.2.2
NEWMAN := .tools/newman/node_modules/.bin/newman
BASE_URL ?= http://127.0.0.1:$(PORT)

newman: .tools/newman/.installed-$(NEWMAN_VERSION)  ## install newman into .tools/newman
.tools/newman/.installed-$(NEWMAN_VERSION):
	@npm install --prefix .tools/newman --no-audit --no-fund --loglevel=error newman@$(NEWMAN_VERSION)
	@touch $@

postman: newman  ## run docs/postman's collection against BASE_URL (default: `make run`'s)
	@$(PY) scripts/generate_postman.py --check
	@$(NEWMAN) run docs/postman/cryptotrack.postman_collection.json \
		--environment docs/postman/cryptotrack.postman_environment.json --env-var baseUrl=$(BASE_URL)
