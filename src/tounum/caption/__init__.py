"""tounum.caption: English captions for photos (CNN encoder, Bahdanau attention, GRU decoder).

``load_captioner(model_dir=None).caption(grid, beam=None) -> list[Caption]``; training, decoding and
evaluation live in the submodules. Keras is imported only when a model is loaded.
"""

from tounum.caption.captioner import SHIPPED_MODEL, Caption, Captioner, load_captioner

__all__ = ["SHIPPED_MODEL", "Caption", "Captioner", "load_captioner"]
