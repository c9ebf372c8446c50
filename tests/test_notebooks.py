"""The client's notebooks: built from their sources, committed without outputs, and executed top to
bottom in fast mode (a failing cell fails the test)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
EXPECTED = ("01_preprocessing", "02_classification", "03_captioning", "04_pipeline")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"tounum_notebooks_{name}", NOTEBOOKS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


build = _load("build")
runner = _load("run")


def test_every_notebook_is_there():
    assert tuple(nb.stem for nb in runner.NOTEBOOKS) == EXPECTED


def test_notebooks_are_built_from_their_sources():
    assert build.stale() == [], "run `python notebooks/build.py` after editing notebooks/src/"


@pytest.mark.parametrize("notebook", runner.NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_parameters_and_no_outputs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell holds the parameters"
    assert "FAST = True" in code[0].source
    assert all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", runner.NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_fast_mode(notebook, tmp_path):
    executed = runner.execute(notebook, tmp_path, fast=True)  # raises on the first failing cell
    nb = nbformat.read(executed, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(o.get("data", {}).get("image/png") for o in outputs), "a notebook without a figure"
