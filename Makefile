# Two commands for a new user: `make demo` runs the app, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STYLIZE_ARGS ?= --size 256 --iterations 200 --save-every 50

.PHONY: install test test-fast bench gpu-check lint docs stylize export demo clean

install: $(STAMP)

# Re-installs only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

test: install
	$(BIN)/python -m pytest --benchmark-disable

# The quick loop while editing: everything but the tests marked slow, and those needing a heavy
# fixture (an ONNX export, the app's server, a browser, Ray; marked in tests/conftest.py).
test-fast: install
	$(BIN)/python -m pytest --benchmark-disable -m "not slow and not heavy"

# On a CUDA machine: CUDA tests, bf16/OOM/ORT-CUDA checks, step and app timings (a few minutes);
# writes artifacts/gpu_check.md. Without a GPU it says so and exits 0.
gpu-check: install
	$(BIN)/python -m tests.gpu_check

# Real benchmark run (CPU: about 16 minutes). Each run is also saved under
# .benchmarks/ so `make bench BENCH_ARGS=--benchmark-compare` diffs it with the last one.
bench: install
	mkdir -p artifacts
	$(BIN)/python -m pytest tests/benchmarks --benchmark-only --benchmark-autosave \
		--benchmark-json=artifacts/bench.json --benchmark-columns=min,median,max,rounds $(BENCH_ARGS)
	$(BIN)/python -m tests.benchmarks.report artifacts/bench.json

# ruff, then mypy: --strict for stylecore/, the default checks for export/ and demo/ (pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The documentation site (docs/, mkdocs.yml) into site/; any warning fails it.
docs: install
	$(BIN)/mkdocs build --strict

stylize: install
	$(BIN)/stylecore examples/chelsea.jpg examples/strokes.png -o outputs/chelsea_strokes.png $(STYLIZE_ARGS)

# Writes artifacts/vgg19_extractor.onnx + .json + profile.md; fails if any check fails.
export: install
	$(BIN)/python -m export $(EXPORT_ARGS)

# Serves on 127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT override).
demo: install
	$(BIN)/python demo/app.py

clean:
	rm -rf $(VENV) outputs artifacts site .pytest_cache .ruff_cache
