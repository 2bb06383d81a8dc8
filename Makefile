# isletflow: `make run` (set up, write the sample trial, run the nightly flow, print the summary)
# and `make test` (set up, run the whole suite). Both build the environment from uv.lock.
UV_VERSION := 0.13.8
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 180
export UV_COMPILE_BYTECODE := 1

.PHONY: env run test bench serve clean

DOCS_ASSETS := assets/gx_docs

env: $(VENV)/.synced $(DOCS_ASSETS)/node_modules/.installed

$(VENV)/.synced: uv.lock pyproject.toml
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen --compile-bytecode
	@touch $@

# The scripts, stylesheets and fonts the Data Docs pages load (isletflow/gx_docs.py copies them
# into each site): from the npm registry, at package-lock.json's versions and hashes, no scripts.
$(DOCS_ASSETS)/node_modules/.installed: $(DOCS_ASSETS)/package.json \
		$(DOCS_ASSETS)/package-lock.json
	@command -v npm >/dev/null 2>&1 || \
		{ echo "npm (Node.js) is needed for the Data Docs assets" >&2; exit 1; }
	cd $(DOCS_ASSETS) && npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

# TRIAL: a trial definition in trials/ (make run TRIAL=islet-301: the second example trial, in
# data/islet-301/ as its prefect.yaml deployment has it).
TRIAL ?= islet-101
DATA := $(if $(filter islet-101,$(TRIAL)),data,data/$(TRIAL))

run: env
	@test -d $(DATA)/landing || \
		$(BIN)/isletflow demo-data --trial trials/$(TRIAL).toml --out $(DATA)/landing
	$(BIN)/isletflow run --trial trials/$(TRIAL).toml --landing $(DATA)/landing \
		--warehouse $(DATA)/warehouse.duckdb

test: env
	$(BIN)/pytest

# BENCH_NIGHTLY: scales of the nightly run as a process (bench/scale.py; 100 generates a 1,400-
# participant trial once, about 11 GB under data/bench/nightly/x100); BENCH_NIGHTLY= skips it.
BENCH_NIGHTLY ?= 1 100
bench: env
	$(BIN)/python bench/run.py --scales 1 10 --workdir data/bench --nightly $(BENCH_NIGHTLY) \
		$(BENCH_ARGS)

serve: env
	$(BIN)/isletflow serve --port $(or $(PORT),4200)

clean:
	rm -rf data .prefect
