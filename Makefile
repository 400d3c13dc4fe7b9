# Tandem: `make demo` serves the demo; `make test` runs every suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_ENV := TANDEM_DEBUG=true TANDEM_DEMO=true
PG_URL ?= postgres://postgres@127.0.0.1:5432/tandem
REDIS_URL ?= redis://127.0.0.1:6379/0
XDIST ?= -n 2
CHROMIUM := /usr/bin/chromium

.PHONY: demo test venv pdf-deps test-deps lint typecheck migrations-check test-sqlite test-postgres test-e2e test-bench bench clean

$(BIN)/tandem: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tandem needs Python 3.11 or newer")'
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(BIN)/tandem

venv: $(BIN)/tandem

# WeasyPrint draws the PDFs (signed authorizations, reports) with Pango.
pdf-deps: venv
	@if ! $(BIN)/python -c 'import weasyprint' >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "Installing Pango for PDFs..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core >/dev/null; \
	  else \
	    echo "PDFs need Pango. Install with:"; \
	    echo "    sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core"; \
	    exit 1; \
	  fi; \
	fi

demo: venv pdf-deps
	@mkdir -p var
	$(DEMO_ENV) $(BIN)/tandem migrate --verbosity 0
	$(DEMO_ENV) $(BIN)/tandem demo
	@echo ""
	@echo "Tandem demo on http://127.0.0.1:8000  (Ctrl+C stops it)"
	$(DEMO_ENV) $(BIN)/tandem serve --host 127.0.0.1 --port 8000 --with-worker

# Debian's Chromium drives the browser suite (never `playwright install`),
# coturn relays video, redis-server links two app servers inside the browser
# suite's network namespace, and wrk drives the benchmark.
test-deps: venv pdf-deps
	@missing=""; \
	[ -x $(CHROMIUM) ] || missing="$$missing chromium"; \
	command -v turnserver >/dev/null || missing="$$missing coturn"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's$$missing..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "The test suites need Debian's$$missing. Install with:"; \
	    echo "    sudo apt-get install$$missing"; \
	    exit 1; \
	  fi; \
	fi

lint: venv
	$(BIN)/ruff check .

typecheck: venv
	TANDEM_DEBUG=true $(BIN)/mypy tandem

migrations-check: venv
	TANDEM_DEBUG=true $(BIN)/tandem makemigrations --check --dry-run

test-sqlite: venv
	$(BIN)/pytest $(XDIST) -q

# In CI a missing PostgreSQL or Redis fails the run; elsewhere it is reported loudly and left out.
test-postgres: venv
	@if TANDEM_DATABASE_URL=$(PG_URL) TANDEM_REDIS_URL=$(REDIS_URL) $(BIN)/python scripts/check_services.py; then \
	  TANDEM_DATABASE_URL=$(PG_URL) TANDEM_REDIS_URL=$(REDIS_URL) $(BIN)/pytest $(XDIST) -q; \
	elif [ -n "$$CI" ]; then \
	  echo "CI: PostgreSQL and Redis are required for the PostgreSQL suite."; exit 1; \
	else \
	  echo "*** NOT RUN: the PostgreSQL and Redis suite (start them, or set PG_URL and REDIS_URL) ***"; \
	fi

# The browser suite runs in a network namespace that has only loopback, so no
# packet can leave the machine (WebRTC media included).
test-e2e: test-deps
	@if [ "$$(id -u)" = "0" ]; then NS="unshare -n"; else NS="unshare -rn"; fi; \
	$$NS sh -c 'ip link set lo up && exec "$$@"' sh $(BIN)/pytest tests/e2e -q -p no:randomly

test: venv test-deps lint typecheck migrations-check test-sqlite test-postgres test-e2e test-bench
	@echo "All suites passed."

# The bench's own tests include a tiny real run (gunicorn and wrk on loopback).
test-bench: test-deps
	$(BIN)/pytest bench/tests -q

# The load is driven by Debian's wrk (a C client leaves both cores to the server).
bench: test-deps
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/eligibility.py
	$(BIN)/python bench/referrals.py
	$(BIN)/python bench/video.py

clean:
	rm -rf $(VENV) var
