# Two commands do all set-up on a fresh machine:  `make demo` (train + evaluate on CPU)  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The tested CPU torch; an unpinned torch would pull the CUDA build and GBs of nvidia packages.
CONSTRAINTS ?= constraints-cpu.txt
EXTRAS ?= dev,sweeps

.PHONY: install demo test test-all lint clean

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	touch $@

install: $(VENV)/.installed

demo: install  ## train the tiny model on the bundled sample photos, then evaluate (CPU, ~7 min on 2 cores)
	$(PY) run.py

test: install  ## the default suite (CPU; GPU tests skip themselves)
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) logs .pytest_cache .ruff_cache
