"""The per-image result: one `Record` per input file; the results table is built from records.

A record travels from the worker that made it to the rows file of its batch and from there into
``results.csv`` / ``results.parquet``; `COLUMNS` fixes the order and `arrow_schema` the types,
so that a resumed run merges old and new rows the same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("ok", "error", "skipped")


@dataclass
class Record:
    """What tounum did with one input file.

    ``path`` is relative to its input ``root`` with ``/`` separators; ``key`` identifies the input
    together with its content and the settings (the resume key). Missing measurements are ``None``
    (``NaN`` in the tables), never a made-up number.
    """

    path: str
    root: str = ""
    key: str = ""
    status: str = "ok"
    error: str = ""
    sha256: str = ""
    size: int | None = None
    width: int | None = None
    height: int | None = None
    format: str = ""
    doc_type: str = ""
    p_photo: float | None = None
    p_painting: float | None = None
    p_sketch: float | None = None
    p_schematic: float | None = None
    p_text: float | None = None
    is_photo: bool | None = None
    caption: str = ""
    caption_score: float | None = None
    noise_before: float | None = None
    sharpness_before: float | None = None
    noise_after: float | None = None
    sharpness_after: float | None = None
    laplacian_var_before: float | None = None  # the client's sharpness measure (noise inflates it)
    laplacian_var_after: float | None = None
    enhance_steps: str = ""  # JSON list of {"op": ..., params...}
    enhanced_path: str = ""  # relative to the output folder, "/" separators
    t_read: float | None = None
    t_enhance: float | None = None
    t_features: float | None = None
    t_classify: float | None = None
    t_caption: float | None = None
    t_write: float | None = None
    t_total: float | None = None
    warnings: str = ""  # "; "-joined
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # not a column: worker scratch

    def fail(self, message: str) -> Record:
        """Mark the record as failed with a message naming the file and the problem."""
        self.status = "error"
        self.error = message if self.path in message else f"{self.path}: {message}"
        return self

    def add_warning(self, message: str) -> None:
        self.warnings = f"{self.warnings}; {message}" if self.warnings else message

    def to_row(self) -> dict[str, Any]:
        """The record as one table row (every column of `COLUMNS`, in order).

        Text is made valid UTF-8: bytes of a file name that were not UTF-8 (kept by Python as
        surrogates) are shown as ``\\xNN`` escapes.
        """
        return {name: printable(v) if isinstance(v := getattr(self, name), str) else v
                for name in COLUMNS}


def printable(text: str) -> str:
    r"""``text`` as valid UTF-8, with undecodable file-name bytes as escapes.

    Example
    -------
    >>> import os
    >>> printable(os.fsdecode(b"caf\xe9.png"))
    'caf\\xe9.png'
    """
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


COLUMNS = tuple(f.name for f in dataclasses.fields(Record) if f.name != "extra")
_ARROW_TYPES = {"str": "string", "int | None": "int64", "float | None": "float64",
                "bool | None": "bool"}
# Each has a _before and an _after column, from `tounum.enhance.Quality`'s fields.
QUALITY_MEASURES = {"noise": "noise_sigma", "sharpness": "sharpness",
                    "laplacian_var": "laplacian_variance"}


def arrow_schema() -> Any:
    """The pyarrow schema of the results table (nullable numbers stay numbers, not objects)."""
    import pyarrow as pa

    return pa.schema([
        (f.name, pa.type_for_alias(_ARROW_TYPES[f.type]))
        for f in dataclasses.fields(Record) if f.name != "extra"
    ])
