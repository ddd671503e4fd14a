# Two entry points: `make demo` and `make test`. Both create .venv from the project's own files.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-solver bench-workflow bench-schedule clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m djcurator_core prepare  # compile the solver once, at install time
	touch $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) scripts/bench_djgrade.py

bench-solver: $(STAMP)
	$(PY) scripts/bench_sequencing.py

bench-workflow: $(STAMP)
	$(PY) scripts/bench_workflow.py

bench-schedule: $(STAMP)
	$(PY) scripts/bench_schedule.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
