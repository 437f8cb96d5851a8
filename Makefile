# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
# Each creates .venv and installs the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0

.PHONY: install demo test test-all lint bench clean

$(BIN)/dilqr-rl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/dilqr-rl

demo: install
	$(BIN)/dilqr-rl demo

test: install
	$(BIN)/python -m pytest -q -m "not slow"

test-all: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check dilqr_rl tests scripts benchmarks

bench: install
	$(BIN)/dilqr-rl bench

clean:
	rm -rf $(VENV) build dist *.egg-info
