# Tandem: `make run` starts the assistant, `make test` runs every test. `make help` lists all targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export RASA_TELEMETRY_ENABLED := false
# Tandem's fine-tuning seeds on BANKING77 in `make bench`: the first one's run is compared with DIET's.
BANKING77_SEEDS ?= 7,8,9

.DEFAULT_GOAL := help
.PHONY: help setup seed train run test test-fast bench lint validate rules lock clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## create .venv with Python 3.10 and install the pinned lock (no-op when current)
	@bash scripts/setup.sh

seed: setup ## fill the demo retail store under var/ if it is empty
	@$(PY) -m bot.cli seed-demo

train: setup ## train the Rasa model if config, domain or data changed since the last one
	@$(PY) -m bot.cli train

run: setup ## seed if empty, train if stale, start Rasa (5005), actions (5055) and the console (5006)
	@$(PY) -m bot.cli run

test: setup train ## run every test: unit, integration (PostgreSQL, Redis, RabbitMQ), channels, e2e, browser
	@$(PY) -m pytest

test-fast: setup ## unit tests only
	@$(PY) -m pytest tests/unit

bench: setup ## NLU (product, BANKING77 vs DIET, GoEmotions), recommender, analytics ETL: bench/results/
	@$(PY) bench/nlu.py product
	@$(PY) bench/nlu.py banking77 --data $(or $(BANKING77),../shared/datasets/banking77) \
		--tandem-seeds $(BANKING77_SEEDS)
	@$(PY) -m bot.cli emotion evaluate --format goemotions-ekman --epochs 2 \
		--train $(or $(GOEMOTIONS),../shared/datasets/goemotions/ekman)/train.tsv \
		--test $(or $(GOEMOTIONS),../shared/datasets/goemotions/ekman)/test.tsv \
		--out bench/results/goemotions_ekman.json
	@$(PY) bench/recommend.py $(or $(ONLINE_RETAIL),../shared/datasets/online-retail)
	@$(PY) bench/analytics.py

validate: setup ## rasa data validate, failing on any warning
	@$(PY) -m rasa data validate --domain domain.yml --data data --fail-on-warnings

rules: setup ## regenerate data/form_interruptions.yml from domain.yml
	@$(PY) scripts/form_rules.py

lint: setup ## ruff over the Python code
	@$(PY) -m ruff check bot actions scripts tests

lock: setup ## re-resolve requirements/lock.txt from requirements/top-level.txt
	@bash scripts/lock.sh

clean: ## remove trained models, local data and test output (keeps .venv)
	rm -rf models var tests/output .rasa
