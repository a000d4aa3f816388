# The two commands (see README): `make up` starts everything locally, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(HOME)/.cache/scriptrun/bin/current:$(PATH)

.PHONY: help deps up down test test-unit test-cluster bench scale chaos crds fuzz

help:
	@echo "make up          start the local cluster, the CRDs, the runtimes, the controller and the API on 127.0.0.1:8080"
	@echo "make down        stop all of it and remove what it left on the host"
	@echo "make test        every test: unit, harness, and real-cluster tests"
	@echo "make test-unit   the fast tests that need no cluster"
	@echo "make bench       the benchmark on the local cluster (bench/README.md); BENCH_QUICK=1 for a short one"
	@echo "make scale       10 000 runs onto 100 nodes simulated by kwok, and 1 000 callers on /execute (bench/README.md)"
	@echo "make chaos       kills and restarts each part of the local cluster under load (test/chaos/README.md)"

# npm and Python packages; the cluster's own prerequisites are installed by cluster/up.sh.
deps: node_modules/.installed
	@cluster/lib/deps.sh
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	python3 -m pytest --version >/dev/null 2>&1 || python3 -m pip install --quiet pytest
	python3 -c 'import flit_core' 2>/dev/null || python3 -m pip install --quiet 'flit_core>=3.9,<5'
	touch $@

up: deps
	@scripts/up.sh

down:
	@scripts/down.sh

test-unit: deps
	npx tsc -p tsconfig.json --noEmit
	npx tsc -p playground/tsconfig.json
	npx mocha 'test/*.test.ts' 'crds/**/*.test.ts' 'core/**/*.test.ts' 'operator/**/*.test.ts' 'api/**/*.test.ts' 'bench/**/*.test.ts' 'playground/*.test.ts' 'test/chaos/*.test.ts'
	python3 -m pytest -q images/runner/tests
	npx mocha 'cli/**/*.test.ts'
	python3 -m pytest -q -p no:cacheprovider clients/python/tests/unit
	scripts/fuzz.sh

fuzz: deps
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-300} FUZZ_SEED=$${FUZZ_SEED:-random} scripts/fuzz.sh

test-cluster: deps
	scripts/test-cluster.sh

test: test-unit test-cluster

bench: deps
	scripts/bench.sh

scale: deps
	scripts/scale.sh

chaos: deps
	scripts/chaos.sh
