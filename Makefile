# Everything a fresh machine needs: Python packages go into .venv; Debian packages that tests
# need (chromium for the dashboard browser tests, prometheus for the exposition tests,
# postgresql for the PostgreSQL tests, which start their own throwaway server) are installed
# with apt-get when missing (as root).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: help install system-deps test test-fast lint format bench run demo export vendor clean

help:
	@echo "make install  create .venv and install the project with its test and dev extras"
	@echo "make test     run every test (installs what is missing first)"
	@echo "make lint     ruff (lint + format check) and mypy"
	@echo "make bench    run every benchmark, write benchmarks/RESULTS.md"
	@echo "make demo     run the whole system offline (no Discord token needed)"
	@echo "make run      run the real bot (needs DISCORD_TOKEN)"
	@echo "make export   regenerate deploy/ (Prometheus rules, Grafana dashboard)"
	@echo "make vendor   refresh the vendored chart library from npm (assets/vendor/)"

$(STAMP): pyproject.toml setup.py
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages for the browser, Prometheus and PostgreSQL tests; skipped when already present.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v prometheus >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
		missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null || \
		{ echo "could not install:$$missing (the browser/Prometheus/PostgreSQL tests will fail)"; }; \
	fi

test: $(STAMP) system-deps
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

test-fast: $(STAMP)
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "not browser and not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) system-deps
	$(PYTHON) -m benchmarks.run_all

run: $(STAMP)
	$(PYTHON) bot.py

demo: $(STAMP)
	$(PYTHON) bot.py --demo

export: $(STAMP)
	$(PYTHON) -m monitoring.export prometheus-rules --defaults --out deploy/prometheus/rules.yml
	$(PYTHON) -m monitoring.export grafana-dashboard --out deploy/grafana/dashboard.json

vendor:
	web/frontend/vendor.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
