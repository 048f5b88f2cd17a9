# The README's commands. Each target installs what it needs first, idempotently, into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
NPM := $(shell command -v npm 2>/dev/null)
NODE_MODULES := node_modules/.installed-$(shell cat package.json package-lock.json | cksum | cut -d' ' -f1)

.PHONY: demo test contracts dashboard lint bench clean

demo: $(INSTALLED)
	$(BIN)/gtc demo

test: $(INSTALLED) $(if $(NPM),$(NODE_MODULES))
	$(BIN)/pytest

# Recompile contracts/src into contracts/build (needs Node.js and npm, or solc; see README).
contracts: $(INSTALLED) $(NODE_MODULES)
	$(BIN)/gtc compile

# Copy Chart.js, as npm installed it, to where the backend serves the dashboard from (committed, so that
# serving needs no Node.js; a test compares the copy with node_modules).
dashboard: $(NODE_MODULES)
	cp node_modules/chart.js/dist/chart.umd.min.js backend/dashboard/vendor/

# Measurements (minutes, not part of the tests); results in BENCHMARKS.md.
bench: $(INSTALLED)
	$(BIN)/python -m benchmarks

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .ruff_cache .mypy_cache

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@
