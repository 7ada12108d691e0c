# newsbot: the commands a newcomer needs. Only Python 3.11+, pip and make are assumed.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
# pip's "new version available" notice and setuptools' banner about editable installs are
# not for a newcomer's first run
export PIP_DISABLE_PIP_VERSION_CHECK := 1
INSTALL := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet

.PHONY: install run test bench bench-fanout bench-scale soak emulator preview clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The bot alone: runtime dependencies only.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(INSTALL) -e .
	touch $(RUN_STAMP)

# Everything the tests need on top (pytest, mypy, ruff, an embedded PostgreSQL, ...).
$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(INSTALL) -e '.[test]'
	touch $(TEST_STAMP) $(RUN_STAMP)

install: $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/newsbot run

preview: $(RUN_STAMP)
	$(BIN)/newsbot preview

test: $(TEST_STAMP)
	$(BIN)/ruff check bot handlers tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(TEST_STAMP)
	$(INSTALL) -e '.[bench]'
	$(BIN)/python bench/storage.py
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/matching.py

bench-fanout: $(TEST_STAMP)
	$(BIN)/python bench/fanout.py

# A million chats and a million articles in PostgreSQL (about 6 minutes, 2 GB of disk).
bench-scale: $(TEST_STAMP)
	$(BIN)/python bench/scale.py

# A simulated month (about 35 minutes): restarts, kills, network faults; figures into
# BENCHMARKS.md "Reliability"; exits 1 when a check fails.
# `make soak PROCESSES=3`: a simulated week of three processes on an embedded PostgreSQL
# with a database restart (about 9 minutes); figures into "Scaling out: soak".
soak: $(TEST_STAMP)
	$(BIN)/python bench/soak.py $(if $(PROCESSES),--days 7 --processes $(PROCESSES) --db-restart --restarts 6)

emulator: $(TEST_STAMP)
	$(BIN)/python -m tests.emulator.console

clean:
	rm -rf $(VENV) build *.egg-info
