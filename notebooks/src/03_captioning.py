# %% [markdown]
# # 3. Captioning the photographs
#
# Every image classified as a photo gets an English caption. The model follows "Show, Attend and
# Tell" (Xu et al., 2015), in the shape of the TensorFlow "image captioning with visual attention"
# tutorial the client started from:
#
# - a pretrained **CNN**, EfficientNet-Lite0, frozen, turns the image into a 7x7 grid of
#   1,280-dimensional feature vectors: 49 regions of the picture, each described by what the
#   network saw there;
# - a dense **"CNN encoder"** projects each region's vector into the decoder's space;
# - a **GRU decoder** (an RNN) writes the caption word by word; before each word, **Bahdanau
#   attention** scores the 49 regions against the decoder's state and takes their weighted mean
#   as the context: the model looks at the part of the image the next word is about.
#
# This notebook shows the architecture, the image and text preprocessing, the CNN and RNN code, the
# training curves, the scores on the Flickr8k dev split, examples with their attention maps, and
# beam search against greedy decoding and sampling. Everything is a call to `tounum.caption`.
#
# **Fast mode** uses the shipped model and a subset of the dev images; **full mode**
# (`FAST = False`) retrains with the package's training command and scores the whole dev split.

# %% tags=["parameters"]
FAST = True  # True: shipped model, a subset of dev; False: retrain on Flickr8k train, all of dev
DATA_DIR = ""  # the shared data folder; empty: ../shared/data beside the repository
WORK_DIR = ""  # scratch folder (a retrained model in full mode); empty: a temporary folder
MODEL_DIR = ""  # fast mode: a captioner folder to show instead of the shipped model; empty: the shipped one

# %%
import inspect
import json
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from tounum.backbone import load_backbone
from tounum.backbone.preprocess import fit_square
from tounum.caption import load_captioner
from tounum.caption.data import read_captions
from tounum.caption.evaluate import METRIC_KEYS, score_captions
from tounum.caption.features import build_grid_cache, cache_folder
from tounum.caption.gallery import plot_attention
from tounum.caption.model import CaptionModel, caption_loss
from tounum.caption.text import normalize
from tounum.config import BackboneConfig
from tounum.io import read_image

from helpers import folders, show  # notebooks/helpers.py: paths and figure display

DATA_DIR, WORK_DIR = folders(DATA_DIR, WORK_DIR, "03")
FLICKR = DATA_DIR / "captions" / "flickr8k"

# %% [markdown]
# ## The model
#
# In fast mode, the model shipped in the package; in full mode, a model retrained here by the
# package's training command (`tounum train captioner`, the one in the model card), on cached
# backbone features of the Flickr8k training photos, with early stopping on dev.

# %%
if FAST:
    model_dir = MODEL_DIR or None  # None: the shipped model
else:
    from tounum.cli import main as tounum

    model_dir = WORK_DIR / "captioner"
    command = ["train", "captioner", "--images", str(FLICKR / "images"), "--captions", str(FLICKR / "captions.csv"),
               "--split", str(FLICKR / "splits" / "train.txt"), "--dev-split", str(FLICKR / "splits" / "dev.txt"),
               "--out", str(model_dir)]
    start = time.perf_counter()
    print(f"tounum {' '.join(command)} -> exit code {tounum(command)} in {time.perf_counter() - start:.0f} s")
captioner = load_captioner(model_dir)
settings = captioner.config["model"]
n_members = len(getattr(captioner.model, "members", [captioner.model]))
print(f"model folder: {captioner.model_dir}")
print(f"vocabulary {len(captioner.vocab):,} words; encoder {settings['embed_dim']} units, attention "
      f"{settings['attention_units']}, GRU {settings['units']}; {n_members} network(s) of this shape averaged word by "
      f"word (an ensemble of trained models), {captioner.model.count_params():,} trained parameters in all; "
      f"backbone resize '{captioner.resize}', default decoding beam {captioner.beam} alpha {captioner.alpha}, "
      f"at most {captioner.max_words} words")

# %% [markdown]
# ## The architecture
#
# The figure is drawn from the loaded model's configuration. The backbone runs once per image;
# the decoder loop (right) runs once per word.

# %%
def box(ax, xy, text, colour="#dde8f5", width=2.6, height=0.8):
    ax.add_patch(FancyBboxPatch((xy[0] - width / 2, xy[1] - height / 2), width, height,
                                boxstyle="round,pad=0.05", facecolor=colour, edgecolor="#4a6fa5"))
    ax.text(*xy, text, ha="center", va="center", fontsize=8.5)


def arrow(ax, start, end, text=""):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="->", mutation_scale=12, color="#333"))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, text, fontsize=7.5, color="#555",
                ha="center", va="bottom")


grid_side, channels = 7, settings["feature_dim"]
fig, ax = plt.subplots(figsize=(12, 6.2))
ax.set(xlim=(0, 12), ylim=(0, 8.2))
ax.axis("off")
box(ax, (1.6, 7.5), "photo (any size)\n-> 224x224 RGB", "#f4f4f4")
box(ax, (1.6, 6.0), "EfficientNet-Lite0\n(frozen, ImageNet weights)", "#eeeeee")
box(ax, (1.6, 4.5), f"grid {grid_side}x{grid_side}x{channels}\n= {settings['positions']} regions x {channels}", "#f4f4f4")
box(ax, (1.6, 3.0), f"CNN encoder: dense {channels}->{settings['embed_dim']}\nReLU + dropout")
box(ax, (1.6, 1.4), f"{settings['positions']} encoded regions\n(N, {settings['positions']}, {settings['embed_dim']})", "#f4f4f4")
for y0, y1 in ((7.1, 6.4), (5.6, 4.9), (4.1, 3.4), (2.6, 1.8)):
    arrow(ax, (1.6, y0), (1.6, y1))
box(ax, (5.6, 1.4), f"Bahdanau attention\nscore = V tanh(W1 regions + W2 h)\n({settings['attention_units']} units)",
    width=3.4, height=1.1)
box(ax, (5.6, 3.2), "softmax over 49 regions -> alpha\ncontext = sum alpha x regions (gated)", width=3.4)
box(ax, (9.6, 3.2), f"GRU cell ({settings['units']} units)\ninput: word embedding + context", width=3.2)
box(ax, (9.6, 5.0), f"deep output: dense {settings['embed_dim']} tanh\n-> softmax over {len(captioner.vocab):,} words",
    width=3.2)
box(ax, (9.6, 6.8), "next word\n(beam search / greedy / sampling)", "#f4f4f4", width=3.2)
box(ax, (9.6, 1.4), f"h0 = tanh(dense(mean of regions))\nprevious word -> embedding ({settings['embed_dim']})",
    "#f4f4f4", width=3.2)
arrow(ax, (2.9, 1.4), (3.9, 1.4), "keys")
arrow(ax, (5.6, 1.95), (5.6, 2.8))
arrow(ax, (7.3, 3.2), (8.0, 3.2), "context")
arrow(ax, (9.6, 1.85), (9.6, 2.8))
arrow(ax, (9.6, 3.6), (9.6, 4.6))
ax.text(9.7, 4.1, "h_t", fontsize=7.5, color="#555")
arrow(ax, (9.6, 5.4), (9.6, 6.4))
arrow(ax, (8.0, 2.9), (7.3, 1.6))
ax.text(7.75, 2.05, "h_(t-1)", fontsize=7.5, color="#555")
arrow(ax, (11.2, 6.8), (11.6, 6.8))
ax.annotate("", (11.2, 1.4), (11.6, 6.8), arrowprops={"arrowstyle": "->", "connectionstyle": "angle,angleA=-90,angleB=0"})
ax.text(11.7, 4.0, "fed back\nas the next\ninput word", fontsize=7.5, color="#555")
ax.set_title("Captioner: CNN features, attention and GRU decoder (one step of the word loop on the right)")
show(fig)

# %% [markdown]
# ## Image preprocessing
#
# The backbone takes a 224x224 image. A photo of another shape can be padded (aspect kept, borders
# added), cropped (centre square), or squashed (aspect lost). The shared Flickr8k photos were
# already squashed to 224x224 by an earlier uploader, so the model was trained on squashed images;
# captions at inference use the same resize mode, as recorded in the model folder and printed above.

# %%
import skimage.data

photo = skimage.data.chelsea()
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
axes[0].imshow(photo)
axes[0].set_title(f"original {photo.shape[1]}x{photo.shape[0]}")
for ax, mode in zip(axes[1:], ("pad", "crop", "squash")):
    ax.imshow(fit_square(photo, 224, mode))
    ax.set_title(f"{mode}{' (this model)' if mode == captioner.resize else ''}")
for ax in axes:
    ax.axis("off")
show(fig)

# %% [markdown]
# ## Text preprocessing
#
# Captions are normalised (lower case, punctuation removed, spaces collapsed), wrapped in
# `<start>` and `<end>` tokens, and mapped to ids with a vocabulary of the words seen at least a few
# times in training; rarer words become `<unk>`, and short captions are padded with `<pad>` (id 0),
# which the loss ignores. The vocabulary is saved with the model, so a shipped model decodes the
# same everywhere.

# %%
dev = read_captions(FLICKR / "captions.csv", FLICKR / "images", FLICKR / "splits" / "dev.txt")
train_names = (FLICKR / "splits" / "train.txt").read_text().split()
print(f"Flickr8k: {len(train_names)} train images listed; dev: {len(dev)} images with "
      f"{sum(map(len, dev.captions))} captions; problems reported: {len(dev.problems)}")
vocab = captioner.vocab
raw = dev.captions[0][0]
ids = vocab.encode(raw, captioner.max_words + 2)
print(f"raw:        {raw!r}\nnormalised: {normalize(raw)!r}")
print(f"ids:        {ids}\nback:       {[vocab.words[i] for i in ids]}")
print(f"special tokens: {vocab.words[:4]}; an unknown word -> {vocab.encode('a zyzzyva', 6)}")

# %% [markdown]
# ## The CNN and RNN code
#
# The network as it is in the package (`tounum/caption/model.py`): the dense CNN encoder, the
# Bahdanau attention, the GRU cell and the deep output layer, in backend-agnostic Keras 3. Under
# teacher forcing, training feeds the true previous word at each step and scores the prediction of
# the next one.

# %%
print(inspect.getsource(CaptionModel))

# %% [markdown]
# The loss: cross-entropy of each true next word, averaged over the real (non-padding) words, with
# label smoothing, plus the "doubly stochastic" attention penalty of Show, Attend and Tell, which
# asks every region to receive, over the whole caption, about one unit of attention, so that the
# model does not stare at a single region.

# %%
print(inspect.getsource(caption_loss))

# %% [markdown]
# ## Training curves
#
# The training command checkpoints after every epoch (resumable), evaluates the dev loss and the dev
# BLEU-4 of greedy captions, and keeps the epoch with the best BLEU-4. Its record is saved with the
# model as `history.json`.

# %%
history = pd.DataFrame(json.loads((captioner.model_dir / "history.json").read_text())).set_index("epoch")
display(history)
best = int(history["dev_bleu4_greedy"].idxmax())
print(f"best epoch {best} of {len(history)}: dev BLEU-4 (greedy) {history.loc[best, 'dev_bleu4_greedy']:.4f}; "
      f"{history['seconds'].mean():.0f} s per epoch on average, peak memory {history['peak_rss_mb'].max():,.0f} MB")
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
axes[0].plot(history.index, history["train_loss"], marker="o", label="train (teacher forcing)")
axes[0].plot(history.index, history["dev_loss"], marker="o", label="dev")
axes[0].set(xlabel="epoch", ylabel="cross-entropy per word", title="loss")
axes[1].plot(history.index, history["dev_bleu4_greedy"], marker="o", color="C2")
axes[1].set(xlabel="epoch", ylabel="BLEU-4", title="dev BLEU-4, greedy captions")
for ax in axes:
    ax.axvline(best, color="grey", linestyle=":")
    ax.grid(alpha=0.3)
axes[0].legend()
fig.tight_layout()
show(fig)

# %% [markdown]
# ## Scores on the dev split
#
# Corpus BLEU-1..4, METEOR, ROUGE-L and CIDEr with the standard COCO caption evaluation code
# (`pycocoevalcap`, PTB tokenizer; METEOR runs on Java), each generated caption scored against the
# five human captions of its image. BLEU counts shared word n-grams, METEOR also matches stems and
# synonyms, ROUGE-L looks at the longest common subsequence, CIDEr weights n-grams by how specific
# they are to the image (TF-IDF). The backbone features are cached on disk, keyed by content.

# %%
subset = dev.subset(list(range(0, len(dev), len(dev) // 40))[:40]) if FAST else dev
backbone = load_backbone(BackboneConfig(resize=captioner.resize))
start = time.perf_counter()
grids = build_grid_cache(subset.images, cache_folder(FLICKR / "images", backbone.version, captioner.resize), backbone)
grid = np.asarray(grids.grid[grids.rows], dtype=np.float32)
print(f"grid features of {len(subset)} dev images ({'subset' if FAST else 'whole split'}) in "
      f"{time.perf_counter() - start:.1f} s: {grid.shape}")
start = time.perf_counter()
beam = captioner.caption(grid)  # the model's default decoding
beam_seconds = time.perf_counter() - start
scores = score_captions(subset.captions, [c.text for c in beam])
print(f"beam {captioner.beam} (alpha {captioner.alpha}) on {len(subset)} images in {beam_seconds:.1f} s; "
      f"tokenizer {scores['tokenizer']}")
display(pd.Series({k: v for k, v in scores.items() if k not in ("tokenizer",)}).to_frame("dev").T.round(4))
metrics_file = captioner.model_dir / "metrics.json"
if FAST and metrics_file.is_file():  # the model's own record of the whole dev split
    shipped = json.loads(metrics_file.read_text())
    shipped = shipped.get("dev", shipped)
    print(f"the model's metrics.json, whole dev split ({shipped.get('n_images')} images): "
          + ", ".join(f"{k} {shipped[k]:.4f}" for k in METRIC_KEYS if isinstance(shipped.get(k), float)))

# %% [markdown]
# ## Examples, and where the model looked
#
# For each word, the regions the attention ignored are darkened (`tounum.caption.gallery`): what
# stays bright is where the model looked. A good model looks at the dog when it writes "dog" and at the grass when it writes
# "grass"; function words ("a", "the") often spread their attention.

# %%
for i in range(3):
    print(f"{Path(subset.images[i]).name}\n  model: {beam[i].text}\n  human: " + "\n         ".join(subset.captions[i][:3]))
    seen = fit_square(read_image(subset.images[i]).pixels, 224, captioner.resize)  # as the model saw it
    show(plot_attention(seen, beam[i], columns=6))

# %% [markdown]
# ## Beam search, greedy decoding and sampling
#
# - **greedy** takes the most probable word at each step: fast, but one early poor choice cannot be
#   undone;
# - **beam search** keeps the `k` most probable partial captions at each step and returns the best
#   complete one, its log-probability divided by length^alpha so that short captions are not
#   favoured unduly;
# - **sampling** (the client's prototype, `tf.random.categorical`) draws each word from the
#   predicted distribution: varied, but it often draws improbable words, and two runs differ.
#
# All three on the same dev images (in fast mode without Java, so without METEOR, to save the Java
# start-up of each scoring; the PTB tokenizer is replaced by the package's normaliser):

# %%
import logging

if FAST:  # Java is left out on purpose here: silence the evaluator's "no Java" notice
    logging.getLogger("tounum.caption.evaluate").setLevel(logging.ERROR)
decoders = {f"beam {captioner.beam}, alpha {captioner.alpha} (default)": beam}
others = {"greedy": {"beam": 1}, "beam 3, alpha 0.7": {"beam": 3, "alpha": 0.7},
          "beam 5, alpha 0.7": {"beam": 5, "alpha": 0.7}, "sampling": {"temperature": 1.0, "seed": 0}}
for name, kwargs in others.items():
    if (kwargs.get("beam"), kwargs.get("alpha")) == (captioner.beam, captioner.alpha):
        continue  # the default, already run
    start = time.perf_counter()
    decoders[name] = captioner.caption(grid, **kwargs)
    print(f"{name}: {time.perf_counter() - start:.1f} s for {len(grid)} images")
comparison = pd.DataFrame({name: score_captions(subset.captions, [c.text for c in caps], use_java=not FAST)
                           for name, caps in decoders.items()}).T.drop(columns=["tokenizer", "n_images"])
comparison["mean words"] = [np.mean([len(c.text.split()) for c in caps]) for caps in decoders.values()]
display(comparison.dropna(axis=1, how="all").astype(float).round(4))
examples = pd.DataFrame({name: [c.text for c in caps[:5]] for name, caps in decoders.items()},
                        index=[Path(p).name for p in subset.images[:5]])
with pd.option_context("display.max_colwidth", 80):
    display(examples)
