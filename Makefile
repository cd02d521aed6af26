# Two commands for a new user: `make demo` runs the app, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STYLIZE_ARGS ?= --size 256 --iterations 200 --save-every 50

.PHONY: install test lint stylize export demo clean

install: $(STAMP)

# Re-installs only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

test: install
	$(BIN)/python -m pytest --benchmark-disable

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

stylize: install
	$(BIN)/stylecore examples/chelsea.jpg examples/strokes.png -o outputs/chelsea_strokes.png $(STYLIZE_ARGS)

# Writes artifacts/vgg19_extractor.onnx + .json + profile.md; fails if any check fails.
export: install
	$(BIN)/python -m export $(EXPORT_ARGS)

demo:
	@echo "The Gradio demo is coming soon; try 'make stylize' meanwhile."

clean:
	rm -rf $(VENV) outputs artifacts .pytest_cache .ruff_cache
