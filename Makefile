# idqueue — every target creates the virtual environment it needs.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run demo test check bench screenshots clean e2e

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "idqueue needs Python 3.11 ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@# Bytecode for the package, as a wheel install has it (PYTHONDONTWRITEBYTECODE would
	@# otherwise make every start compile it from source).
	$(BIN)/python -m compileall -q idqueue
	@touch $(STAMP)

## make run: open idqueue (the built-in sandbox when no tokens are configured)
run: $(STAMP)
	$(BIN)/idqueue run-default

demo: $(STAMP)
	$(BIN)/idqueue demo

## make test: install and run the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

check: $(STAMP)
	$(BIN)/ruff check idqueue tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

bench: $(STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.email_bench
	$(BIN)/python -m bench.pg_store_bench
	$(BIN)/python -m bench.team_bench

screenshots: $(STAMP)
	$(BIN)/python -m idqueue.screenshots screenshots
	$(BIN)/python -m idqueue.service.web_screenshot screenshots

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
