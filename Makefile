# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
# Each creates .venv and installs the project on first use. The commands live in .venv/bin: call
# .venv/bin/dilqr-rl directly, or `source .venv/bin/activate` once per shell.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
# pytest workers (pytest-xdist); 0 runs the tests in this process
TEST_WORKERS ?= auto
LOGDIR ?= runs

.PHONY: install demo test test-all lint bench tensorboard clean

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
	$(BIN)/python -m pytest -q -m "not slow" -n $(TEST_WORKERS)
	# the control core again on its PyTorch sweeps (the reference of the compiled ones)
	DILQR_RL_KERNELS=0 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) tests/control

test-all: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

lint: install
	$(BIN)/ruff check dilqr_rl tests scripts benchmarks

bench: install
	$(BIN)/dilqr-rl bench

# TensorBoard on every run under runs/ (LOGDIR=... for another folder)
tensorboard: install
	$(BIN)/tensorboard --logdir $(LOGDIR)

clean:
	rm -rf $(VENV) build dist *.egg-info
