# StreamRec: the two commands are `make demo` and `make test`; both install what is missing.
SHELL := /bin/bash
PYTHON ?= python3
PIP := $(PYTHON) -m pip
STAMP := .infra/setup.stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PYTHONUNBUFFERED := 1

.PHONY: setup infra-up infra-down infra-status test test-unit lint demo clean

## setup: install system packages, Python dependencies and Kafka's jars when missing
setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v redis-server >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q redis-server; }
	@command -v java >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q openjdk-17-jre-headless; }
	@command -v g++ >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q g++; }
	@command -v mvn >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q maven; }
	@# the dashboard's browser test drives Debian's Chromium with its own driver (no download)
	@command -v chromedriver >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium chromium-driver; }
	$(PIP) install -q --disable-pip-version-check -e ".[dev]"
	@mkdir -p .infra && touch $(STAMP)

## infra-up / infra-down / infra-status: local Kafka (KRaft) and Redis on loopback
## (dev tooling in devtools/, not part of the installed package)
infra-up: setup
	$(PYTHON) -m devtools.infra up

infra-down:
	$(PYTHON) -m devtools.infra down

infra-status:
	$(PYTHON) -m devtools.infra status

## test: lint (style, format, import contracts), then the whole suite against real Kafka
## and Redis (started by the fixtures)
test: lint
	$(PYTHON) -m pytest -q

## test-unit: the tests that need no server and no model (marked neither integration nor slow)
test-unit: setup
	$(PYTHON) -m pytest -q -m "not integration and not slow"

## lint: ruff, the format check and the import contracts of pyproject.toml (lint-imports)
lint: setup
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	PYTHONPATH=src lint-imports  # the checkout's package, whichever one is installed

## demo: the whole Amazon set through Kafka -> worker -> Redis, then a summary
demo: infra-up
	$(PYTHON) -m streamrec.cli demo

clean: infra-down
	rm -rf .infra .pytest_cache .ruff_cache
