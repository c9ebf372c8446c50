"""Presentation helpers shared by the notebooks: where things are, and showing a figure.

Nothing here computes a result; every measurement in the notebooks is a call to ``tounum``.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def folders(data_dir: str, work_dir: str, prefix: str) -> tuple[Path, Path]:
    """The notebook's data and scratch folders from its parameters.

    ``data_dir`` empty: the shared data beside the repository (``../shared/data``);
    ``work_dir`` empty: a new temporary folder named with ``prefix``.
    """
    data = Path(data_dir) if data_dir else REPO.parent / "shared" / "data"
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix=f"tounum-{prefix}-"))
    work.mkdir(parents=True, exist_ok=True)
    return data, work


def show(fig, dpi: int = 90) -> None:
    """Display a Matplotlib figure as a PNG and free it.

    Rendering the PNG here works whatever backend is active: some library code switches
    Matplotlib to Agg, after which a notebook no longer draws figures by itself.
    """
    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    display(Image(buffer.getvalue()))
    plt.close(fig)
