# newsbot: the commands a newcomer needs. Only Python 3.11+, pip and make are assumed.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench bench-fanout soak emulator preview clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/newsbot run

preview: $(STAMP)
	$(BIN)/newsbot preview

test: $(STAMP)
	$(BIN)/ruff check bot handlers tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/storage.py
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/matching.py

bench-fanout: $(STAMP)
	$(BIN)/python bench/fanout.py

# A simulated month (about 35 minutes): restarts, kills, network faults; figures into
# BENCHMARKS.md "Reliability"; exits 1 when a check fails.
soak: $(STAMP)
	$(BIN)/python bench/soak.py

emulator: $(STAMP)
	$(BIN)/python -m tests.emulator.console

clean:
	rm -rf $(VENV) build *.egg-info
