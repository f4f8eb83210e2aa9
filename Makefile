# bridgedesk: `make run` serves the demo on http://127.0.0.1:8000, `make test` checks everything.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint unit system-deps bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The SIP engine: pjproject built from source with server limits (SPEC §5), cached outside
# the checkout and installed into the venv; the PyPI wheel, announced loudly, where it can't be.
PJSUA2 := $(VENV)/.pjsua2
$(PJSUA2): scripts/build-pjsua2.sh $(STAMP)
	bash scripts/build-pjsua2.sh $(VENV)
	touch $@

install: $(STAMP) $(PJSUA2)

# Debian packages: the engine's build (compiler, swig, OpenSSL headers for sips:) and what
# the tests drive for real: Chromium (pages), sipp and baresip (SIP), pdftotext (PDFs).
DEBIAN_PACKAGES := chromium sip-tester baresip poppler-utils swig g++ make libssl-dev
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v sipp >/dev/null || ! command -v baresip >/dev/null \
	    || ! command -v pdftotext >/dev/null || ! command -v swig >/dev/null || ! command -v c++ >/dev/null \
	    || [ ! -f /usr/include/openssl/ssl.h ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null; \
	  else echo "install Debian packages: $(DEBIAN_PACKAGES)" >&2; exit 1; fi; \
	fi

# The web service in the foreground, the worker (scheduled jobs, SIP engine) beside it,
# stopped with it. A worker that exits (its scheduler died: status 3) is restarted, and said
# so on the terminal, not only in its log.
run: install
	$(BIN)/bridgedesk demo
	( trap 'kill $$child 2>/dev/null; exit 0' INT TERM; \
	  while :; do \
	    $(BIN)/bridgedesk worker >> bridgedesk-worker.log 2>&1 & child=$$!; wait $$child; \
	    echo "*** bridgedesk worker exited with status $$?; restarting it in 2 s (bridgedesk-worker.log) ***" >&2; \
	    sleep 2; \
	  done ) & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/bridgedesk serve --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q

test: system-deps install lint unit

bench: install
	for b in booking probes uptime invoices cdr_import certification_import bridge; do $(BIN)/python bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bridgedesk.db* bridgedesk-worker.log
