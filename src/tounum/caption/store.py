"""A captioner on disk: ``config.json`` (model, text and feature settings), ``vocab.json``,
``model.weights.h5``. Every file is written to a temporary name and renamed, so a run stopped at any
moment leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import re
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


def _member_folder(source: Path) -> tuple[Path, Path]:
    """``(weights file, folder with config.json and vocab.json)`` of an ensemble member: a model
    folder, or a weights file in a model folder or in a run's ``checkpoint/`` folder."""
    weights = source / WEIGHTS_FILE if source.is_dir() else source
    for folder in (weights.parent, weights.parent.parent):
        if (folder / CONFIG_FILE).is_file() and (folder / VOCAB_FILE).is_file():
            return weights, folder
    raise FileNotFoundError(f"{source}: no {CONFIG_FILE} and {VOCAB_FILE} beside it or one folder up")


def save_ensemble_dir(out_dir: str | Path, sources: list[str | Path],
                      decoding: dict[str, Any] | None = None) -> Path:
    """A captioner folder whose ``config.json`` lists the weight files of several trained members.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write: ``model.weights.h5`` (first member), ``member-2.weights.h5``, ...,
        the shared ``vocab.json`` and the first member's ``config.json`` with ``members`` and
        ``ensemble`` (where each member came from) added.
    sources : list of str or Path
        Model folders, or weights files (e.g. ``RUN/checkpoint/epoch-010.weights.h5``).
    decoding : dict or None
        Decoding defaults (``beam``, ``alpha``, ``max_words``) to set over the first member's.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    ValueError
        When the members' vocabularies or model shapes differ (their word ids would not agree).

    Example
    -------
    >>> save_ensemble_dir("ens", ["src/tounum/models/captioner", "/tmp/cap-old"])  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    members = [_member_folder(Path(s).expanduser()) for s in sources]
    if not members:
        raise ValueError("an ensemble needs at least one member")
    configs = [json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8")) for _, folder in members]
    vocabs = [Vocabulary.load(folder / VOCAB_FILE) for _, folder in members]
    for (weights, folder), config, vocab in zip(members[1:], configs[1:], vocabs[1:]):
        if vocab != vocabs[0]:
            raise ValueError(f"{weights}: its vocabulary ({folder / VOCAB_FILE}) differs from the first "
                             f"member's ({members[0][1] / VOCAB_FILE}); members must share word ids")
        if config["model"] != configs[0]["model"]:
            raise ValueError(f"{weights}: model shape {config['model']} differs from the first member's")
    names = [WEIGHTS_FILE] + [f"member-{i}.weights.h5" for i in range(2, len(members) + 1)]
    for (weights, _), name in zip(members, names):
        data = weights.read_bytes()
        replace_atomically(out_dir / name, lambda p, data=data: Path(p).write_bytes(data))
    replace_atomically(out_dir / VOCAB_FILE, lambda p: Path(p).write_text(vocabs[0].to_json(), encoding="utf-8"))
    epoch = [re.search(r"epoch-(\d+)", w.name) for w, _ in members]  # checkpoint files name their epoch
    ensemble = [{"weights": str(w), "epoch": int(e[1]) if e else c.get("epoch")}
                for (w, _), e, c in zip(members, epoch, configs)]
    config = {**configs[0], "members": names, "ensemble": ensemble}
    config["decoding"] = {**config.get("decoding", {}), **(decoding or {})}
    write_json(out_dir / CONFIG_FILE, config)
    return out_dir


def load_model_dir(model_dir: str | Path):
    """``(model, vocab, config dict)`` of a captioner folder; a clear error names what is missing.

    A folder whose ``config.json`` lists ``members`` (weight files) gives an
    :class:`~tounum.caption.model.Ensemble` of them.
    """
    from tounum.caption.model import Ensemble, ModelConfig, build_model

    model_dir = Path(model_dir)
    for name in (CONFIG_FILE, VOCAB_FILE):
        if not (model_dir / name).is_file():
            raise FileNotFoundError(f"{model_dir}: not a captioner folder ({name} is missing)")
    config = json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    members = config.get("members", [WEIGHTS_FILE])
    for name in members:
        if not (model_dir / name).is_file():
            raise FileNotFoundError(f"{model_dir}: not a captioner folder ({name} is missing)")
    vocab = Vocabulary.load(model_dir / VOCAB_FILE)
    models = []
    for name in members:
        models.append(build_model(ModelConfig(**config["model"])))
        models[-1].load_weights(model_dir / name)
    return (models[0] if len(models) == 1 else Ensemble(models)), vocab, config
