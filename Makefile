# Two commands: `make run` and `make test`. Both create .venv and install through pyproject.toml.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Where no NVIDIA GPU is present, install a CPU build of torch first so the range in
# pyproject.toml (torch>=2.2) is already satisfied and pip does not fetch a multi-GB CUDA build.
TORCH_CPU_SPEC ?= torch==2.13.0
SAMPLE ?= samples/xor_mlp.json

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	@if ! command -v nvidia-smi >/dev/null 2>&1 && ! $(BIN)/python -c "import torch" 2>/dev/null; then \
	  echo "No NVIDIA GPU found: installing a CPU build of torch ($(TORCH_CPU_SPEC))"; \
	  $(BIN)/pip install -q "$(TORCH_CPU_SPEC)" || true; fi
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	@if ! command -v nvidia-smi >/dev/null 2>&1 && ! $(BIN)/python -c "import torch" 2>/dev/null; then \
	  echo "No NVIDIA GPU found: installing a CPU build of torch ($(TORCH_CPU_SPEC))"; \
	  $(BIN)/pip install -q "$(TORCH_CPU_SPEC)" || true; fi
	$(BIN)/pip install -q -e ".[test]"
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/python -m designer $(SAMPLE)

test: $(VENV)/.installed-test
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check graph runtime designer tests

bench: $(VENV)/.installed-test
	for f in tests/benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
