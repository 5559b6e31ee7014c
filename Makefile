# perfpulse: `make run` starts everything with demo traffic; `make test` runs the tests.
# Every target installs what it needs into .venv (Python: perfpulse with its server parts and the
# dev tools) and the system (Java, Maven, Redis).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test bench lint deps clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[server,dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

deps: $(STAMP)
	@infra/install-deps.sh
	@infra/install-alertmanager.sh

run: deps
	$(BIN)/perfpulse up

test: deps
	$(BIN)/pytest

bench: deps
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .perfpulse-test .pytest_cache .mypy_cache .ruff_cache
