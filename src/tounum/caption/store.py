"""A captioner on disk: ``config.json`` (model, text and feature settings), ``vocab.json``,
``model.weights.h5``. Every file is written to a temporary name and renamed, so a run stopped at any
moment leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tounum.caption.text import Vocabulary

CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE = "config.json", "vocab.json", "model.weights.h5"


def replace_atomically(dest: str | Path, write: Callable[[str], None], suffix: str = "") -> None:
    """Call ``write(tmp_path)`` then rename ``tmp_path`` over ``dest`` (same folder, same suffix).

    Example
    -------
    >>> import pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> replace_atomically(d, lambda p: pathlib.Path(p).write_text("hi"))
    >>> d.read_text()
    'hi'
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix or "".join(dest.suffixes),
                               dir=dest.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are ordinary shareable files
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(dest: str | Path, value: Any) -> None:
    """Write ``value`` as indented JSON, atomically."""
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    replace_atomically(dest, lambda p: Path(p).write_text(text, encoding="utf-8"))


def save_weights(model, dest: str | Path) -> None:
    """``model.save_weights`` atomically (Keras wants the ``.weights.h5`` suffix on the temp name)."""
    replace_atomically(dest, model.save_weights, suffix=".weights.h5")


def save_model_dir(out_dir: str | Path, model, vocab: Vocabulary, config: dict[str, Any]) -> None:
    """Write weights, vocabulary and configuration of a captioner into ``out_dir``."""
    out_dir = Path(out_dir)
    save_weights(model, out_dir / WEIGHTS_FILE)
    replace_atomically(out_dir / VOCAB_FILE, lambda p: Path(p).write_text(vocab.to_json(), encoding="utf-8"))
    write_json(out_dir / CONFIG_FILE, config)


def load_model_dir(model_dir: str | Path):
    """``(model, vocab, config dict)`` of a captioner folder; a clear error names what is missing."""
    from tounum.caption.model import ModelConfig, build_model

    model_dir = Path(model_dir)
    for name in (CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE):
        if not (model_dir / name).is_file():
            raise FileNotFoundError(f"{model_dir}: not a captioner folder ({name} is missing)")
    config = json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    vocab = Vocabulary.load(model_dir / VOCAB_FILE)
    model = build_model(ModelConfig(**config["model"]))
    model.load_weights(model_dir / WEIGHTS_FILE)
    return model, vocab, config
