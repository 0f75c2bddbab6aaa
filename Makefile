# kindling: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

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

test: install lint
	$(BIN)/python -m pytest tests

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

bench: install
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,bench]"
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs demo .pytest_cache .ruff_cache
