"""Execute the notebooks with papermill and export each one to HTML.

    python notebooks/run.py --out notebooks/html            # fast mode: subsets, shipped models
    python notebooks/run.py --out notebooks/html --full     # full mode: retrains, whole dev sets
    python notebooks/run.py --only 01 04                    # some of them

Each notebook gets the parameters ``FAST``, ``DATA_DIR`` (the shared data, by default
``../shared/data`` beside the repository) and ``WORK_DIR`` (a scratch folder for the files it
writes). The executed notebooks (``*.ipynb``) and their HTML land in ``--out``; a failing cell
stops that notebook, the others still run, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NOTEBOOKS = tuple(sorted(HERE.glob("[0-9][0-9]_*.ipynb")))
KERNEL = "python3"  # the ipykernel of the interpreter running this script (its own venv)


def default_data_dir() -> Path:
    return REPO.parent / "shared" / "data"


@dataclass
class Outcome:
    notebook: str
    seconds: float
    executed: Path
    html: Path | None
    error: str = ""


def execute(notebook: Path, out_dir: Path, *, fast: bool = True, data_dir: Path | None = None,
            work_dir: Path | None = None, timeout: int = 1800) -> Path:
    """Run one notebook top to bottom with its parameters; return the executed copy's path.

    Raises papermill's ``PapermillExecutionError`` (naming the cell) when a cell fails; the
    executed copy is written anyway, with the traceback in the failing cell.
    """
    import papermill

    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir = work_dir or out_dir / "work" / notebook.stem
    work_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / notebook.name
    papermill.execute_notebook(
        str(notebook), str(executed), kernel_name=KERNEL, cwd=str(notebook.parent),
        parameters={"FAST": fast, "DATA_DIR": str(data_dir or default_data_dir()),
                    "WORK_DIR": str(work_dir.resolve())},
        execution_timeout=timeout, progress_bar=False, log_output=False,
    )
    return executed


def export_html(executed: Path) -> Path:
    """The executed notebook as one self-contained HTML page beside it (figures inline)."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(
        nbformat.read(executed, as_version=4))
    html = executed.with_suffix(".html")
    html.write_text(body, encoding="utf-8")
    return html


def run_all(notebooks: list[Path], out_dir: Path, *, fast: bool = True,
            data_dir: Path | None = None) -> list[Outcome]:
    outcomes = []
    for notebook in notebooks:
        start = time.perf_counter()
        error = ""
        executed = out_dir / notebook.name
        try:
            execute(notebook, out_dir, fast=fast, data_dir=data_dir)
        except Exception as exc:  # a failing cell: report it, run the next notebook
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
        seconds = time.perf_counter() - start
        html = export_html(executed) if executed.exists() else None
        outcomes.append(Outcome(notebook.name, seconds, executed, html, error))
        status = "FAILED " + error if error else "ok"
        print(f"{notebook.name:28s} {seconds:7.1f} s  {status}", file=sys.stderr, flush=True)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python notebooks/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "html", help="output folder (default notebooks/html)")
    parser.add_argument("--full", action="store_true", help="full mode: retrain, whole dev sets (hours)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="shared data folder (default ../shared/data beside the repository)")
    parser.add_argument("--only", nargs="*", default=[], metavar="PREFIX",
                        help="run only the notebooks whose name starts with one of these (e.g. 01 04)")
    args = parser.parse_args(argv)
    chosen = [nb for nb in NOTEBOOKS if not args.only or nb.name.startswith(tuple(args.only))]
    if not chosen:
        parser.error(f"no notebook matches {args.only} in {HERE}")
    outcomes = run_all(chosen, args.out, fast=not args.full, data_dir=args.data_dir)
    for outcome in outcomes:
        print(f"{outcome.notebook}\t{outcome.seconds:.1f}\t{outcome.html or ''}")
    return 1 if any(o.error for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
