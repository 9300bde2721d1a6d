# pmlmrs developer entry points. `make demo` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2

.PHONY: install test demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,jax,postgres]"
	@touch $(STAMP)

test: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

demo: install
	$(BIN)/pmlmrs demo demo_out --force

bench: install
	$(BIN)/python benchmarks/run_all.py --out bench_out

clean:
	rm -rf $(VENV) demo_out bench_out .pytest_cache
