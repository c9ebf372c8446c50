# Two commands for a new machine: `make demo` and `make test`. Both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo notebooks bench clean

install: $(STAMP)

# Reinstall only when the project's declared dependencies change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m pip uninstall --yes --quiet opencv-python opencv-contrib-python 2>/dev/null || true
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest

demo: install
	$(BIN)/python -m tounum.pipeline.demo --out demo_output

notebooks: install
	$(BIN)/python -m tounum.notebooks --out notebooks/html

clean:
	rm -rf $(VENV) demo_output
