# bridgedesk: `make run` serves the demo on http://127.0.0.1:8000, `make test` checks everything.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint unit system-deps bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian packages the tests drive for real: Chromium (pages), sipp (SIP), pdftotext (PDFs).
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v sipp >/dev/null || ! command -v pdftotext >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium sip-tester poppler-utils >/dev/null; \
	  else echo "install Debian packages: chromium sip-tester poppler-utils" >&2; exit 1; fi; \
	fi

# The web service in the foreground, the worker (scheduled jobs, SIP engine) beside it,
# stopped with it.
run: $(STAMP)
	$(BIN)/bridgedesk demo
	$(BIN)/bridgedesk worker > bridgedesk-worker.log 2>&1 & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/bridgedesk serve --host 127.0.0.1 --port 8000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: $(STAMP) system-deps lint unit

bench: $(STAMP)
	for b in booking probes uptime invoices cdr_import certification_import bridge; do $(BIN)/python bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bridgedesk.db* bridgedesk-worker.log
