# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON   ?= python3.11
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
PG_URL   ?= postgresql://postgres@127.0.0.1:5432/test
HOST     ?= 127.0.0.1
PORT     ?= 8000

.PHONY: setup chromium pdf-libs run test lint typecheck pytest pytest-postgres bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# Browser tests drive Debian's chromium (Playwright never downloads a browser here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; }

# The supervision PDF (WeasyPrint) needs Debian's Pango and a font; installed once, when missing.
pdf-libs:
	@{ ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' && test -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf; } || { \
	  echo "installing Debian's Pango and DejaVu fonts for the PDF report"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 \
	    fonts-dejavu-core >/dev/null; }

setup: $(STAMP) chromium pdf-libs

run: $(STAMP) pdf-libs
	$(BIN)/alliance migrate
	$(BIN)/alliance demo
	$(BIN)/alliance serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) chromium pdf-libs
	$(BIN)/python -m pytest -n 2 -q

# The clinic suite again on PostgreSQL (a server listens on 127.0.0.1:5432 where the tests run).
pytest-postgres: $(STAMP) chromium pdf-libs
	DATABASE_URL=$(PG_URL) $(BIN)/python -m pytest -n 2 -q tests/clinic

test: lint typecheck pytest pytest-postgres

bench: $(STAMP)
	$(BIN)/python bench/change.py
	$(BIN)/python bench/caseload.py
	$(BIN)/python bench/checkin.py
	$(BIN)/python bench/analytics.py
	$(BIN)/python bench/transcripts.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
