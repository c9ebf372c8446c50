"""EfficientNet-Lite0 and -Lite2 in backend-agnostic Keras 3, and their weights from the PyTorch state dicts.

EfficientNet-Lite is EfficientNet without squeeze-excitation and with ReLU6, so that it
quantises well. Padding is TensorFlow-style "same" (for stride 2 the extra row/column goes at
the bottom/right), as in the TensorFlow original the PyTorch weights were converted from.
Input: RGB 0..255 as float; the model scales it to ``(x - 127) / 128`` itself.

For inference each batch norm is folded into the convolution before it (a per-channel scale of
the kernel plus a bias): the same function, one pass less over every activation, and
TensorFlow's oneDNN fuses convolution + bias + ReLU6 into one kernel; 1.6x faster on our CPU
(``benchmarks/backbone_throughput.py``). ``batch_norm=True`` builds the literal network, for
fine-tuning.
"""

from __future__ import annotations

import keras
import numpy as np

# (repeats, kernel, stride, expand ratio, output channels) per stage. Lite2 is Lite0 scaled 1.1x in
# width and 1.2x in depth, with the stem, the head and the first and last stages kept.
STAGES = {
    "efficientnet_lite0": ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
                           (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)),
    "efficientnet_lite2": ((1, 3, 1, 1, 16), (3, 3, 2, 6, 24), (3, 5, 2, 6, 48), (4, 3, 2, 6, 88),
                           (4, 5, 1, 6, 120), (5, 5, 2, 6, 208), (1, 3, 1, 6, 352)),
}
INPUT_SIZES = {"efficientnet_lite0": 224, "efficientnet_lite2": 260}  # the resolutions they were trained at
STEM_CHANNELS, HEAD_CHANNELS, NUM_CLASSES = 32, 1280, 1000
BN_EPSILON = 1e-3
layers = keras.layers


def _conv_bn(x, filters, kernel, name, bn, stride=1, act=True, depthwise=False):
    """Convolution, batch norm (or the bias it folds into), optional ReLU6: the unit of it all."""
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, stride, "same", use_bias=not bn, name=f"{name}_conv")(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, "same", use_bias=not bn, name=f"{name}_conv")(x)
    if bn:
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu6")(x) if act else x


def _mbconv(x, name, kernel, stride, expand, out, bn):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 linear projection, skip if shapes allow."""
    inputs, channels = x, x.shape[-1]
    if expand != 1:
        x = _conv_bn(x, channels * expand, 1, f"{name}_expand", bn)
    x = _conv_bn(x, None, kernel, f"{name}_depthwise", bn, stride=stride, depthwise=True)
    x = _conv_bn(x, out, 1, f"{name}_project", bn, act=False)
    if stride == 1 and channels == out:
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def efficientnet_lite(variant: str = "efficientnet_lite0", input_size: int | None = None,
                      batch_norm: bool = False) -> keras.Model:
    """EfficientNet-Lite with outputs ``logits`` (N,1000), ``pooled`` (N,1280), ``grid``.

    Parameters
    ----------
    variant : str
        A key of :data:`STAGES`.
    input_size : int, optional
        Height and width of the square input (default: the variant's, :data:`INPUT_SIZES`); the
        grid is ``input_size / 32`` on a side, rounded up.
    batch_norm : bool
        Keep batch-norm layers (for training); default: folded into the convolutions.

    Returns
    -------
    keras.Model
        Untrained model; load weights with :func:`load_torch_weights`.

    Example
    -------
    >>> model = efficientnet_lite("efficientnet_lite0")
    >>> [tuple(t.shape) for t in model.outputs]
    [(None, 1000), (None, 1280), (None, 7, 7, 1280)]
    """
    images = keras.Input((input_size or INPUT_SIZES[variant],) * 2 + (3,), name="images")
    x = layers.Rescaling(1 / 128, offset=-127 / 128, name="input_scaling")(images)
    x = _conv_bn(x, STEM_CHANNELS, 3, "stem", batch_norm, stride=2)
    index = 0
    for repeats, kernel, stride, expand, out in STAGES[variant]:
        for r in range(repeats):
            x = _mbconv(x, f"block{index}", kernel, stride if r == 0 else 1, expand, out,
                        batch_norm)
            index += 1
    grid = _conv_bn(x, HEAD_CHANNELS, 1, "head", batch_norm)
    pooled = layers.GlobalAveragePooling2D(name="pool")(grid)
    logits = layers.Dense(NUM_CLASSES, name="logits")(pooled)
    return keras.Model(images, [logits, pooled, grid], name=variant)


def _torch_prefixes(n_blocks: int) -> dict[str, tuple[str, str]]:
    """Keras conv/bn name prefix -> (torch conv name, torch bn name) in the state dict."""
    names = {"stem": ("_conv_stem", "_bn0"), "head": ("_conv_head", "_bn1")}
    for i in range(n_blocks):
        names[f"block{i}_expand"] = (f"_blocks.{i}._expand_conv", f"_blocks.{i}._bn0")
        names[f"block{i}_depthwise"] = (f"_blocks.{i}._depthwise_conv", f"_blocks.{i}._bn1")
        names[f"block{i}_project"] = (f"_blocks.{i}._project_conv", f"_blocks.{i}._bn2")
    return names


def load_torch_weights(model: keras.Model, state_dict: dict[str, np.ndarray]) -> None:
    """Copy a PyTorch EfficientNet-Lite state dict into ``model``, checking every shape.

    Torch stores convolutions as (out, in, kh, kw) and Keras as (kh, kw, in, out); a depthwise
    kernel (channels, 1, kh, kw) becomes (kh, kw, channels, 1); a dense weight is transposed.
    Into a model without batch-norm layers the batch norms are folded: with
    ``s = gamma / sqrt(var + eps)`` per output channel, kernel ``* s`` and bias
    ``beta - mean * s``.

    Parameters
    ----------
    model : keras.Model
        From :func:`efficientnet_lite0`.
    state_dict : dict
        Name -> ndarray, as read by :func:`tounum.backbone.torch_weights.load_state_dict`.

    Example
    -------
    >>> load_torch_weights(efficientnet_lite(), state_dict)  # doctest: +SKIP
    """
    used = set()

    def take(key):
        if key not in state_dict:
            raise ValueError(f"state dict has no {key!r}: not a {model.name} checkpoint")
        used.add(key)
        return state_dict[key]

    def assign(layer, arrays):
        for variable, array in zip(layer.weights, arrays, strict=True):
            if tuple(variable.shape) != array.shape:
                raise ValueError(f"{layer.name}: expected {tuple(variable.shape)}, got {array.shape}")
            variable.assign(array.astype(np.float32))

    layer_names = {layer.name for layer in model.layers}
    n_blocks = sum(name.endswith("_project_conv") for name in layer_names)
    for prefix, (conv, bn) in _torch_prefixes(n_blocks).items():
        if f"{prefix}_conv" not in layer_names:
            continue  # blocks with expand ratio 1 have no expansion
        depthwise = prefix.endswith("_depthwise")
        kernel = take(f"{conv}.weight").transpose((2, 3, 0, 1) if depthwise else (2, 3, 1, 0))
        gamma, beta, mean, var = (take(f"{bn}.{p}").astype(np.float64)
                                  for p in ("weight", "bias", "running_mean", "running_var"))
        if f"{prefix}_bn" in layer_names:
            assign(model.get_layer(f"{prefix}_conv"), [kernel])
            assign(model.get_layer(f"{prefix}_bn"), [gamma, beta, mean, var])
        else:
            scale = gamma / np.sqrt(var + BN_EPSILON)
            # output channels: last axis of (kh, kw, in, out); axis 2 of (kh, kw, channels, 1)
            kernel = kernel * (scale[:, None] if depthwise else scale)
            assign(model.get_layer(f"{prefix}_conv"), [kernel, beta - mean * scale])
    assign(model.get_layer("logits"), [take("_fc.weight").T, take("_fc.bias")])
    left = [k for k in state_dict if k not in used and not k.endswith("num_batches_tracked")]
    if left:
        raise ValueError(f"state dict entries not used: {left[:5]}")
