# news-etl: `make demo` and `make test` are all a fresh machine needs (Python 3.11 + network to PyPI).
SHELL := /bin/bash
PYTHON ?= python3
export UV_COMPILE_BYTECODE := 1
# uv on PATH, else the one pip installs into this Python (`python3 -m uv`).
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
BIN := $(VENV)/bin
WAREHOUSE ?= data/warehouse
DEMO_LANDING := samples/landing

.PHONY: help install demo test test-fast lint typecheck clean train-ner eval-ner eval-html eval-places \
	eval-dates bench

help:
	@echo "make demo   - install, run the pipeline on samples/landing, print a DuckDB query"
	@echo "make test   - install (with dev tools) and run the whole test suite"
	@echo "make lint   - ruff + mypy"

$(VENV)/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 \
		|| $(PYTHON) -m pip install --quiet "uv>=0.5"
	$(UV) sync --frozen --python 3.11
	@touch $@

install: $(VENV)/.installed

demo: install
	rm -rf $(WAREHOUSE)
	@for day in $$(ls $(DEMO_LANDING)); do \
		$(BIN)/newsetl --warehouse $(WAREHOUSE) run --landing $(DEMO_LANDING) --date $$day || exit 1; \
	done
	$(BIN)/newsetl --warehouse $(WAREHOUSE) query --max-width 48 sql/examples/batches.sql
	$(BIN)/newsetl --warehouse $(WAREHOUSE) query --max-width 48 sql/examples/top_entities_of_month.sql
	$(BIN)/newsetl --warehouse $(WAREHOUSE) query --max-width 48 sql/examples/top_entities_by_language.sql
	$(BIN)/newsetl -q --warehouse $(WAREHOUSE) report --date $$(ls $(DEMO_LANDING) | head -1) \
		--to $$(ls $(DEMO_LANDING) | tail -1)

test: install chromium
	$(BIN)/pytest -q

test-fast: install
	$(BIN)/pytest -q -m "not slow"

# Debian's chromium renders the HTML report in tests/test_report.py (the test skips without it,
# and fails under CI=true). Installed with apt-get when missing and we are root; else a hint.
CHROMIUM := /usr/bin/chromium
.PHONY: chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium (apt-get)"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get install -y -qq chromium >/dev/null 2>&1 \
				|| { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; } \
				|| exit 1; \
		else \
			echo "$(CHROMIUM) missing (needs root and apt-get): the report's browser test skips"; \
		fi; \
	fi

lint: install
	$(BIN)/ruff check pipeline dags tests bench training samples
	$(BIN)/mypy

# German NER: convert corpora, build the gazetteer, train (about an hour on 2 cores), package into
# models/de_news with its GermEval / CoNLL-2003 German dev scores in meta.json. Needs ../shared/data.
# English: `make train-ner NER_LANG=en` converts ../shared/data/ner_en (CleanCoNLL dev = spaCy dev;
# CoNLL-2003 dev and WikiANN test never trained on), trains training/ner/config_en.cfg and packages
# models/en_news with its CoNLL-2003 dev / WikiANN test / CleanCoNLL dev scores in meta.json.
# NER_OPEN=1 (either language): only openly licensed training sets (no WikiNEuRal, CoNLL-2003,
# Europarl, ZEFYS; English: BTC + WNUT-17), built in build/ner*_open, packaged as
# models/<lang>_news_open (not committed). See training/ner/README.md.
NER_LANG ?= de
NER_OPEN ?= 0
ifeq ($(NER_OPEN),1)
NER_VARIANT := open
NER_SUFFIX := _open
else
NER_VARIANT := all
NER_SUFFIX :=
endif
NER_BUILD := build/ner$(NER_SUFFIX)
NER_RUN := $(NER_BUILD)/runs/train
NER_BUILD_EN := build/ner_en$(NER_SUFFIX)
NER_RUN_EN := $(NER_BUILD_EN)/runs/train
NER_STEPS_EN := $(if $(filter open,$(NER_VARIANT)),--training.max_steps 4000,)

train-ner: install
ifeq ($(NER_LANG),en)
	$(BIN)/python -m training.ner.convert --lang en --variant $(NER_VARIANT) --data ../shared/data \
		--out $(NER_BUILD_EN)
	OMP_NUM_THREADS=1 $(BIN)/python -m spacy train training/ner/config_en.cfg --output $(NER_RUN_EN) \
		--paths.train $(NER_BUILD_EN)/train --paths.dev $(NER_BUILD_EN)/dev $(NER_STEPS_EN)
	OMP_NUM_THREADS=1 $(BIN)/python -m training.ner.package $(NER_RUN_EN)/model-best --lang en \
		--variant $(NER_VARIANT) --out models/en_news$(NER_SUFFIX) --no-gazetteer \
		--train-dir $(NER_BUILD_EN)/train
else
	$(BIN)/python -m training.ner.convert --variant $(NER_VARIANT) --data ../shared/data \
		--out $(NER_BUILD)
	$(BIN)/python -m training.ner.gazetteer --out $(NER_BUILD)/gazetteer.jsonl \
		--train-dir $(NER_BUILD)/train
	$(BIN)/python -m training.ner.rawtext --out $(NER_BUILD)/raw.jsonl \
		$(if $(filter open,$(NER_VARIANT)),--open,)
	$(BIN)/python -m training.ner.vectors --no-lexicon --raw $(NER_BUILD)/raw.jsonl \
		--gazetteer $(NER_BUILD)/gazetteer.jsonl --out $(NER_BUILD)/vectors.txt
	$(BIN)/python -m spacy init vectors de $(NER_BUILD)/vectors.txt $(NER_BUILD)/vectors_model \
		--prune 20000
	$(BIN)/python -m spacy train training/ner/config.cfg --output $(NER_RUN) \
		--paths.train $(NER_BUILD)/train --paths.dev $(NER_BUILD)/dev \
		--paths.vectors $(NER_BUILD)/vectors_model
	$(BIN)/python -m training.ner.package $(NER_RUN)/model-best --variant $(NER_VARIANT) \
		--out models/de_news$(NER_SUFFIX) --gazetteer $(NER_BUILD)/gazetteer.jsonl \
		--train-dir $(NER_BUILD)/train
endif

# Every shipped NER model: P/R/F1 per label and micro (PER/LOC/ORG), words/s of nlp.pipe on one core.
eval-ner: install
	OMP_NUM_THREADS=1 $(BIN)/python -m training.ner.evaluate models/de_news --json $(NER_BUILD)/eval.json \
		$$(test -d $(NER_BUILD)/train && echo --train-dir $(NER_BUILD)/train)
	@if test -d models/en_news; then mkdir -p $(NER_BUILD_EN) && set -x && \
		OMP_NUM_THREADS=1 $(BIN)/python -m training.ner.evaluate models/en_news \
		--json $(NER_BUILD_EN)/eval.json \
		$$(test -d $(NER_BUILD_EN)/train && echo --train-dir $(NER_BUILD_EN)/train); fi

# HTML extraction on the 345 gold pages of ../shared/data/html: body recall, boilerplate
# exclusion, titles, dates (floors 0.90 as in issue 4).
eval-html: install
	$(BIN)/python -m bench.eval_html --min-recall 0.90 --min-exclusion 0.90

# Publication dates: HTML gold day accuracy, SmartData text-only coverage/accuracy, dateparser
# test-pair pass rate and fast-path speed.
eval-dates: install
	$(BIN)/python -m bench.eval_dates

# Places (training/places/evaluate.py): the resolver on 420 hand-labelled LOC spans of SmartData,
# 10kGNAD and BBC news: share resolved, country and city accuracy.
eval-places: install
	$(BIN)/python -m training.places.evaluate

# Throughput and memory (bench/throughput.py): ceiling, end to end, no NER, naive pandas,
# re-runs, backfill scaling, DuckDB queries; writes bench/RESULTS.md. Corpora are cached in
# build/bench/. `make bench BENCH_N=100000` or `make bench BENCH_SIZES=1000,10000,100000`;
# BENCH_FULL_UP_TO=10000 runs only the single-batch steps (BENCH_LARGE_STEPS, default b,e,c,
# with g) above 10,000.
BENCH_N ?= 10000
BENCH_SIZES ?= $(BENCH_N)
BENCH_FULL_UP_TO ?=
BENCH_LARGE_STEPS ?= b,e,c
bench: install
	$(BIN)/python -m bench.throughput --sizes $(BENCH_SIZES) \
		$(if $(BENCH_FULL_UP_TO),--full-up-to $(BENCH_FULL_UP_TO) --large-steps $(BENCH_LARGE_STEPS)) \
		--out bench/RESULTS.md

clean:
	rm -rf $(VENV) data/warehouse .pytest_cache .mypy_cache .ruff_cache
