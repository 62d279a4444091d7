# The two commands: `make demo` and `make test`. Each installs what it needs on a fresh
# Debian machine: a virtualenv with Loa and its dev tools, and Debian's ffmpeg and espeak-ng.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.loa-installed

.PHONY: demo test test-all lint format system-deps venv clean

demo: venv system-deps
	$(BIN)/loa demo

test: venv system-deps lint
	$(BIN)/pytest

test-all: venv system-deps lint
	$(BIN)/pytest -m ""

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "loa: error: Python 3.11 or newer is needed ($(PYTHON) is older); set PYTHON=python3.11" >&2; exit 1; }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV) || \
		{ echo "loa: error: cannot create $(VENV); on Debian: apt-get install python3-venv" >&2; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

system-deps:
	@bash scripts/ensure-system-deps.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
