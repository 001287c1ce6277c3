# MeetLoop. `make run` serves the demo; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: run test lint vendor bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/python scripts/run.py

test: $(VENV)/.dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev
	$(BIN)/python -m bench $(BENCH)

# Pictures of the key screens for the README (needs Chromium and ffmpeg).
screenshots: $(VENV)/.dev
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/e2e/test_screenshots.py

lint: $(VENV)/.dev
	$(BIN)/ruff check .

vendor:
	$(PYTHON) scripts/vendor.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
