# Two commands for a new machine: `make demo` and `make test`. Both install first.
# The first supported Python found (the package needs 3.11 or 3.12).
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo notebooks bench clean

install: $(STAMP)

# Reinstall only when the project's declared dependencies change. A dependency that pulls
# opencv-python beside the headless build breaks cv2/ (both own it): remove the other builds,
# then restore the headless files they shared.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	if $(BIN)/python -m pip show --quiet opencv-python opencv-contrib-python >/dev/null 2>&1; then \
	  $(BIN)/python -m pip uninstall --yes --quiet opencv-python opencv-contrib-python && \
	  $(BIN)/python -m pip install --quiet --force-reinstall --no-deps \
	    "$$(grep -o 'opencv-python-headless==[0-9.]*' pyproject.toml)"; fi
	$(BIN)/python -c "import cv2, tounum.cli"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest

demo: install
	$(BIN)/python -m tounum.pipeline.demo --out demo_output

notebooks: install
	$(BIN)/python notebooks/run.py --out notebooks/html

clean:
	rm -rf $(VENV) demo_output
