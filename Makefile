# perfpulse: `make run` starts everything with demo traffic; `make test` runs the tests.
# Every target installs what it needs into .venv (Python: perfpulse with its server parts and the
# dev tools) and the system (Java, Maven, Redis).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test bench bench-compare lint deps dashboard clean loadtest loadtest-deps

# The dashboard (dashboard/, TypeScript + React) is built by Vite into api/static, which the API serves
# at / and the Python package ships. npm ci runs when the lock file changed, the build when a source did.
DASHBOARD_SOURCES := $(shell find dashboard/src -type f 2>/dev/null) $(wildcard dashboard/*.json dashboard/*.ts dashboard/index.html)
DASHBOARD_MODULES := dashboard/node_modules/.installed
DASHBOARD_BUILD := api/static/index.html

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[server,dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

deps: $(STAMP)
	@infra/install-deps.sh
	@infra/install-alertmanager.sh

$(DASHBOARD_MODULES): dashboard/package-lock.json
	cd dashboard && npm ci --no-audit --no-fund
	@touch $@

$(DASHBOARD_BUILD): $(DASHBOARD_MODULES) $(DASHBOARD_SOURCES)
	cd dashboard && npm run build
	@touch $@

dashboard: $(DASHBOARD_BUILD)

run: deps dashboard
	$(BIN)/perfpulse up

test: deps dashboard loadtest-deps
	cd dashboard && npm test
	$(BIN)/pytest

# Load tests (loadtest/, Artillery from npm): `make loadtest` runs the spec's scenarios against a running
# perfpulse (PERFPULSE_URL, PERFPULSE_API_KEY; see README "Load tests"). Playwright (an Artillery
# dependency for browser tests, unused here) would download a browser at install: skipped.
LOADTEST_MODULES := loadtest/node_modules/.installed

$(LOADTEST_MODULES): loadtest/package-lock.json
	cd loadtest && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	@touch $@

loadtest-deps: $(LOADTEST_MODULES)

loadtest: loadtest-deps
	cd loadtest && node run.mjs

bench: deps dashboard
	$(BIN)/python -m bench

# perfpulse side by side with VictoriaMetrics (Debian's package, installed when missing) on the same
# seeded samples: README "Side by side with VictoriaMetrics".
bench-compare: deps
	@infra/install-victoria-metrics.sh
	$(BIN)/python -m bench.compare

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python tools/check_records.py

clean:
	rm -rf $(VENV) .perfpulse-test .pytest_cache .mypy_cache .ruff_cache dashboard/node_modules api/static loadtest/node_modules
