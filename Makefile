# fraudops front door. Every target installs what it needs from the repo's own files.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_VERSION := $(shell cat .python-version)
PYENV_ROOT ?= $(HOME)/.pyenv
BASE_PYTHON ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/$(PYTHON_VERSION)/bin/python3) $(shell command -v python3.12))
# LocalStack 2026.3 imports warnings.deprecated: it needs Python 3.13, in its own environment.
LS_PYTHON ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.13*/bin/python3.13) $(shell command -v python3.13))
VENV := .venv
LS_VENV := .venvs/localstack
RUNTIME_DIR := .venvs/lambda-runtime
PY := $(VENV)/bin/python
FRAUDOPS := $(VENV)/bin/fraudops

export PIP_DISABLE_PIP_VERSION_CHECK := 1
# jsii's banner about Node 20's end of life: harmless, and noise in every synth (docs: Troubleshooting)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help install up down status deploy synth-aws deploy-aws destroy demo test test-unit test-infra test-integration lint bench soak clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# --- installation (idempotent: stamps are rebuilt only when their inputs change) -------------
# The shared layer and the emulator are packages of their own, installed editable beside the
# project: tests, the CLI and the benchmarks import them as installed code (no sys.path edits).
$(VENV)/.stamp: pyproject.toml requirements/project.lock layers/shared/pyproject.toml emulator/pyproject.toml
	test -x "$(BASE_PYTHON)" || { echo "Python $(PYTHON_VERSION) not found (pyenv install $(PYTHON_VERSION))"; exit 1; }
	test -d $(VENV) || "$(BASE_PYTHON)" -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c requirements/project.lock -e '.[cdk,dev]'
	$(VENV)/bin/pip install -q --no-deps -e layers/shared -e emulator
	touch $@

$(LS_VENV)/.stamp: requirements/localstack.lock emulator/pyproject.toml
	test -x "$(LS_PYTHON)" || { echo "LocalStack needs Python 3.13 (pyenv install 3.13)"; exit 1; }
	test -d $(LS_VENV) || "$(LS_PYTHON)" -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install -q --upgrade pip
	$(LS_VENV)/bin/pip install -q -r requirements/localstack.lock
	$(LS_VENV)/bin/pip install -q --no-deps -e emulator
	touch $@

$(RUNTIME_DIR)/.stamp: requirements/lambda-runtime.txt
	rm -rf $(RUNTIME_DIR) && mkdir -p $(RUNTIME_DIR)
	"$(BASE_PYTHON)" -m pip install -q --no-deps --target $(RUNTIME_DIR)/python -r requirements/lambda-runtime.txt
	touch $@

# The Kinesis engine LocalStack would npm-install at first use, installed ahead so that a running
# LocalStack needs no registry; the launcher links it into each state folder.
KINESIS_LOCAL := .venvs/localstack-libs/kinesis-local/0.5.2
$(KINESIS_LOCAL)/.stamp: emulator/npm/kinesis-local/package.json emulator/npm/kinesis-local/package-lock.json
	rm -rf $(KINESIS_LOCAL) && mkdir -p $(KINESIS_LOCAL)
	cp emulator/npm/kinesis-local/package.json emulator/npm/kinesis-local/package-lock.json $(KINESIS_LOCAL)/
	cd $(KINESIS_LOCAL) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's chromium: the dashboard report's test opens the HTML in it (headless). The binary is
# the target: installed only when missing; sudo only when not root.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium

install: $(VENV)/.stamp $(LS_VENV)/.stamp $(RUNTIME_DIR)/.stamp $(KINESIS_LOCAL)/.stamp node_modules/.stamp $(CHROMIUM) ## set up everything (idempotent)

# --- LocalStack on the host -------------------------------------------------------------------
up: install ## start LocalStack on 127.0.0.1:4566 in the background
	$(FRAUDOPS) up

down: $(VENV)/.stamp ## stop LocalStack
	$(FRAUDOPS) down

status: $(VENV)/.stamp ## LocalStack state and the deployed stack's resources
	$(FRAUDOPS) status

deploy: install ## deploy the CDK app to the running host LocalStack (bootstrap included)
	$(FRAUDOPS) deploy

# --- AWS: the `aws` stage (keeps data on stack deletion, production alarm periods) -----------
synth-aws: $(VENV)/.stamp node_modules/.stamp ## the AWS stage's template, without credentials; cdk-nag errors fail it
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
		AWS_EC2_METADATA_DISABLED=true FRAUDOPS_STAGE=aws \
		node_modules/.bin/cdk synth --quiet --output cdk.out.aws

deploy-aws: install ## deploy to the AWS account of your credentials (bootstrap included)
	FRAUDOPS_STAGE=aws node_modules/.bin/cdk bootstrap --output cdk.out.aws
	FRAUDOPS_STAGE=aws node_modules/.bin/cdk deploy --output cdk.out.aws --require-approval broadening

destroy: install ## remove the deployed stack
	$(FRAUDOPS) destroy

demo: install ## set up, start, deploy, send one event through each trigger, print what happened
	$(FRAUDOPS) demo

# --- quality ------------------------------------------------------------------------------------
test: install ## unit, infrastructure, integration and end-to-end tests (starts its own LocalStack)
	$(PY) -m pytest

test-unit: $(VENV)/.stamp ## fast tests only, no network
	$(PY) -m pytest tests/unit

test-infra: $(VENV)/.stamp ## CDK template assertions
	$(PY) -m pytest tests/infra

test-integration: install ## against a LocalStack started by the tests
	$(PY) -m pytest tests/integration tests/e2e

lint: $(VENV)/.stamp ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: install ## every benchmark (each writes bench-results.json), then its rows as one table with aims, and the machine
	$(PY) -m benchmarks.platform
	$(PY) -m benchmarks.validation
	$(PY) -m benchmarks.ingestion
	$(PY) -m benchmarks.training
	$(PY) -m benchmarks.feature_value
	$(PY) -m benchmarks.features
	$(PY) -m benchmarks.scoring
	$(PY) -m benchmarks.explain
	$(PY) -m benchmarks.scoring_deployed
	$(PY) -m benchmarks.drift
	$(PY) -m benchmarks.monitoring
	$(PY) -m benchmarks.results

soak: install ## 100,000 transactions with poison, copies, a scorer fault and a restart; the ledger checked (FRAUDOPS_PORT, SOAK_ARGS)
	$(PY) -m benchmarks.soak --transactions 100000 --rate 40 $(SOAK_ARGS)

clean: ## remove generated state (keeps the environments)
	rm -rf cdk.out cdk.out.aws .localstack .pytest_cache .mypy_cache .ruff_cache
