"""Build the notebooks from their sources: ``python notebooks/build.py``.

Each notebook is written as a plain Python file in ``notebooks/src/`` (the "percent" format
that Jupytext and VS Code read): ``# %%`` starts a code cell, ``# %% [markdown]`` a Markdown
cell whose lines are comments, and ``# %% tags=["parameters"]`` the papermill parameters cell.
The ``.ipynb`` files are generated from them without outputs, so that diffs stay readable;
edit the source, then rebuild (``tests/test_notebooks.py`` fails when they differ).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"
_MARKER = re.compile(r"^# %%(?P<kind> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def cells(text: str) -> list[nbformat.NotebookNode]:
    """The cells of a percent-format source (text before the first marker is ignored)."""
    out: list[nbformat.NotebookNode] = []
    kind, tags, lines = None, [], []

    def flush() -> None:
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines())
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = tags
        out.append(cell)

    for line in text.splitlines():
        match = _MARKER.match(line)
        if match:
            flush()
            kind = "markdown" if match["kind"] else "code"
            tags = json.loads(match["tags"]) if match["tags"] else []
            lines = []
        else:
            lines.append(line)
    flush()
    return out


def notebook(source: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=cells(source.read_text(encoding="utf-8")))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):  # stable ids: rebuilding an unchanged source changes nothing
        cell["id"] = f"{source.stem[:2]}-{i:03d}"
    return nb


def render(source: Path) -> str:
    return nbformat.writes(notebook(source)) + "\n"


def stale() -> list[Path]:
    """The notebooks whose committed ``.ipynb`` differs from what its source builds."""
    out = []
    for source in sorted(SOURCES.glob("[0-9][0-9]_*.py")):
        target = HERE / f"{source.stem}.ipynb"
        if not target.exists() or target.read_text(encoding="utf-8") != render(source):
            out.append(target)
    return out


def main() -> int:
    for source in sorted(SOURCES.glob("[0-9][0-9]_*.py")):
        target = HERE / f"{source.stem}.ipynb"
        target.write_text(render(source), encoding="utf-8")
        print(target.relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
