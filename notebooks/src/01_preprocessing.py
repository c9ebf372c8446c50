# %% [markdown]
# # 1. Preprocessing: measuring and cleaning scans of variable quality
#
# Scans arrive noisy (sensor grain, high ISO), blurred (focus, motion, an old lens), or both. This
# notebook shows how tounum
#
# 1. **loads** an image safely (`tounum.io`),
# 2. **measures** its noise level and its blur (`tounum.enhance.quality`) with estimators that
#    each stay honest in the presence of the other,
# 3. **denoises** noisy images and **sharpens** blurred ones, and why each filter does what it does,
# 4. faces the **compromise**: removing noise removes detail, sharpening brings noise out,
#    measured with PSNR and SSIM against the filter strength,
# 5. compares the client's two filters with ours and with the automatic policy, on real photographs.
#
# Every figure quoted in the text is printed by a cell above it.

# %% tags=["parameters"]
FAST = True  # True: a few images, small crops; False: all 68 CBSD68 images at full size
DATA_DIR = ""  # the shared data folder; empty: ../shared/data beside the repository
WORK_DIR = ""  # scratch folder (unused here)

# %%
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from tounum.config import EnhanceConfig
from tounum.enhance import enhance, filters
from tounum.enhance.degrade import degrade, halftone
from tounum.enhance.quality import assess, estimate_noise
from tounum.enhance.score import psnr, ssim
from tounum.io import read_image

from helpers import folders, show  # notebooks/helpers.py: paths and figure display

DATA_DIR, WORK_DIR = folders(DATA_DIR, WORK_DIR, "01")

# %% [markdown]
# ## Loading
#
# The test images are the 68 colour photographs of CBSD68 (the standard colour denoising set),
# read with `tounum.io.read_image`, which decodes by content (not by file name), converts any
# mode and bit depth to 8-bit RGB and refuses bad files with a message naming the file. When the
# shared data is absent, the scikit-image sample photographs stand in (the cell says which).

# %%
cbsd68 = DATA_DIR / "restoration" / "cbsd68"
n_images = 3 if FAST else 68
if cbsd68.is_dir():
    paths = sorted(cbsd68.glob("*.png"))[:: max(1, 68 // n_images)][:n_images]
    loaded = [read_image(p) for p in paths]
    images = {p.stem: im.pixels for p, im in zip(paths, loaded)}
    print(f"CBSD68 from {cbsd68}: using {len(images)} of {len(list(cbsd68.glob('*.png')))} images")
    first = loaded[0]
    print(f"{Path(first.path).name}: format {first.format}, mode {first.mode}, {first.bit_depth}-bit, "
          f"{first.width}x{first.height}, pixels {first.pixels.shape} {first.pixels.dtype}")
else:
    import skimage.data

    images = {name: getattr(skimage.data, name)() for name in ("astronaut", "coffee", "chelsea", "rocket")}
    images = dict(list(images.items())[:n_images])
    print(f"{cbsd68} not found: using the scikit-image sample photographs {list(images)} instead")
if FAST:  # a central 256x256 crop keeps the fast mode fast
    images = {k: v[(v.shape[0] - 256) // 2:][:256, (v.shape[1] - 256) // 2:][:, :256] for k, v in images.items()}
    print("fast mode: central 256x256 crops")

fig, axes = plt.subplots(1, len(images), figsize=(3 * len(images), 3))
for ax, (name, pixels) in zip(np.atleast_1d(axes), images.items()):
    ax.imshow(pixels)
    ax.set_title(name)
    ax.axis("off")
show(fig)

# %% [markdown]
# ## Measuring noise
#
# The policy must know how noisy an image is without a clean reference. `estimate_noise` looks
# at small patches: in flat, weakly textured patches the smallest eigenvalues of the patch
# covariance are the noise variance, whatever the image content (Chen, Zhu and Heng, 2015);
# patches near black or white are left out because clipping to 0..255 shrinks the noise there.
# Textured patches are left out too, so that detail is not read as noise.
#
# Below: Gaussian noise of known sigma is added to each image (clipped to 8 bits, as a real file
# is), on sharp images and on images blurred by a Gaussian of 1.5 pixels.

# %%
rows = []
for name, clean in images.items():
    for blur in (0.0, 1.5):
        for sigma in (5, 15, 25, 50):
            noisy = degrade(clean, noise=sigma, blur=blur, seed=1)
            rows.append({"image": name, "blur": blur, "true sigma": sigma, "estimated": estimate_noise(noisy)})
noise_table = pd.DataFrame(rows)
noise_table["error %"] = 100 * (noise_table["estimated"] / noise_table["true sigma"] - 1)
display(noise_table.pivot_table(index="true sigma", columns="blur", values="error %",
                                aggfunc=lambda e: np.abs(e).mean()).round(1)
        .rename(columns=lambda b: f"mean |error| %, blur {b}"))
print(f"mean absolute error {noise_table['error %'].abs().mean():.1f}%, "
      f"worst {noise_table['error %'].abs().max():.1f}% over {len(noise_table)} measurements")

# %%
fig, ax = plt.subplots(figsize=(5, 4))
for blur, group in noise_table.groupby("blur"):
    ax.scatter(group["true sigma"], group["estimated"], label=f"blur {blur}", alpha=0.7)
ax.plot([0, 55], [0, 55], color="grey", linestyle=":", label="exact")
ax.set(xlabel="true noise sigma", ylabel="estimated sigma", title="tounum estimate_noise")
ax.legend()
show(fig)

# %% [markdown]
# ## Measuring blur, and why the variance of the Laplacian misleads
#
# The client's sharpness measure is the variance of the Laplacian: high means sharp. But the
# Laplacian is a high-pass filter, and noise is high-frequency, so noise inflates it: a noisy
# blurred image can score "sharper" than the clean sharp one. `estimate_blur` instead measures the
# width of the edges (the ratio of gradient energies at two smoothing scales, Crete et al. 2007)
# and subtracts the known share of the noise from each energy. It says *whether* an image is soft,
# robustly, whatever its noise. To *invert* a blur the policy needs its width more precisely, and
# fits it per image to the power spectrum instead (`quality.spectral_blur`, reported as
# `Quality.spectral_blur_sigma`: a natural image's power law times a Gaussian's transfer function
# plus the noise floor; reliable while the noise is low, which is when the policy deconvolves).

# %%
rows = []
for name, clean in images.items():
    for blur in (0.0, 1.0, 2.0, 3.0):
        for sigma in (0, 10, 25):
            degraded = degrade(clean, noise=sigma, blur=blur, seed=2)
            q = assess(degraded)
            rows.append({"image": name, "blur": blur, "noise": sigma, "estimated blur": q.blur_sigma,
                         "laplacian variance": q.laplacian_variance})
blur_table = pd.DataFrame(rows)
display(blur_table.groupby(["blur", "noise"])[["estimated blur", "laplacian variance"]].mean().unstack("noise").round(2))
lap = blur_table.groupby(["blur", "noise"])["laplacian variance"].mean()
print(f"variance of the Laplacian, blur 2.0: {lap[(2.0, 0)]:.0f} without noise, {lap[(2.0, 25)]:.0f} with noise 25 "
      f"({lap[(2.0, 25)] / lap[(2.0, 0)]:.1f}x), against {lap[(0.0, 0)]:.0f} for the sharp clean images")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for sigma, group in blur_table.groupby("noise"):
    means = group.groupby("blur").mean(numeric_only=True)
    axes[0].plot(means.index, means["estimated blur"], marker="o", label=f"noise {sigma}")
    axes[1].plot(means.index, means["laplacian variance"], marker="o", label=f"noise {sigma}")
axes[0].plot([0, 3], [0, 3], color="grey", linestyle=":", label="exact")
axes[0].set(xlabel="true blur (Gaussian sigma, pixels)", ylabel="estimated blur (pixels)", title="tounum estimate_blur")
axes[1].set(xlabel="true blur (Gaussian sigma, pixels)", ylabel="variance of the Laplacian", yscale="log",
            title="client's metric: noise reads as sharpness")
for ax in axes:
    ax.legend()
    ax.grid(alpha=0.3)
fig.tight_layout()
show(fig)

# %% [markdown]
# ## Denoising a noisy image
#
# Noise is independent from pixel to pixel, the image is not: a denoiser averages each pixel with
# others that are *known to show the same thing*, so that the noise averages out and the picture
# does not. The filters differ in how they find those pixels:
#
# - **non-local means** (the client's choice, and ours with another strength): pixels whose
#   surrounding patch looks alike, anywhere in a search window; the strength `h` says how alike.
#   The client fixed `h = 10`; `filters.nlm` sets `h` in proportion to the *measured* noise sigma.
# - **bilateral**: neighbours that are close in position and in colour (edges are kept because
#   the other side of an edge has another colour).
# - **wavelet shrinkage**: noise spreads thinly over all wavelet coefficients while the image
#   concentrates in a few large ones; small coefficients are shrunk towards zero.
# - the **learned restorer** (`tounum.enhance.restorer`): a small residual CNN trained on
#   synthetic noise, blur and JPEG degradations of training photographs; it is blind (never told
#   the noise level) and learns from examples which pixels to trust.
#
# Below, one image with Gaussian noise of sigma 25. Each filter is given the noise level that
# `estimate_noise` measured, not the true one (the filters are blind, as in production).

# %%
def compare(clean, degraded, outputs):
    """PSNR/SSIM of each output against the clean image, and seconds per megapixel."""
    rows = {"degraded input": {"PSNR dB": psnr(clean, degraded), "SSIM": ssim(clean, degraded), "s/MP": 0.0}}
    megapixels = clean.shape[0] * clean.shape[1] / 1e6
    results = {}
    for name, run in outputs.items():
        start = time.perf_counter()
        results[name] = run(degraded)
        seconds = time.perf_counter() - start
        rows[name] = {"PSNR dB": psnr(clean, results[name]), "SSIM": ssim(clean, results[name]),
                      "s/MP": seconds / megapixels}
    return pd.DataFrame(rows).T, results


def crops(clean, degraded, results, title, size=96):
    """The same detail of the clean, degraded and restored images side by side."""
    h, w = clean.shape[:2]
    window = (slice(h // 2 - size // 2, h // 2 + size // 2), slice(w // 2 - size // 2, w // 2 + size // 2))
    panels = {"clean": clean, "degraded": degraded, **results}
    fig, axes = plt.subplots(1, len(panels), figsize=(2.4 * len(panels), 2.8))
    for ax, (name, image) in zip(axes, panels.items()):
        ax.imshow(image[window], interpolation="nearest")
        ax.set_title(name if name in ("clean", "degraded") else f"{name}\n{psnr(clean, image):.1f} dB", fontsize=9)
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


name, clean = next(iter(images.items()))
noisy = degrade(clean, noise=25, seed=3)
sigma = estimate_noise(noisy)
enhance(noisy[:64, :64], EnhanceConfig(method="restorer"))  # load the CNN once: time the filtering only
print(f"{name}: true noise sigma 25, measured {sigma:.1f}")
table, denoised = compare(clean, noisy, {
    "client NLM (h=10)": filters.client_nlm,
    "NLM, h from sigma": lambda x: filters.nlm(x, sigma),
    "bilateral": lambda x: filters.bilateral(x, sigma),
    "wavelet": lambda x: filters.wavelet(x, sigma),
    "learned restorer": lambda x: enhance(x, EnhanceConfig(method="restorer")).pixels,
})
display(table.round(3))
show(crops(clean, noisy, denoised, f"{name}: noise sigma 25"))

# %% [markdown]
# The client's fixed `h = 10` is too weak for noise of sigma 25: most of the grain stays. A
# strength that follows the measured noise removes it; the table above says which filter keeps
# the most of the picture while doing so.
#
# ## Sharpening a blurred image
#
# Blur spreads each point over its neighbours: it lowers the high spatial frequencies. A
# sharpener raises them again:
#
# - the client's **3x3 kernel** `[[-1,-1,-1],[-1,9,-1],[-1,-1,-1]]` adds eight times the
#   difference between each pixel and its neighbours, at full strength, whatever the image;
# - **unsharp masking** (`filters.unsharp`) adds a measured amount of "image minus its blur", and
#   turns that amount down when the image is noisy, leaving noise-sized detail alone;
# - **Wiener deconvolution** (`filters.wiener`) inverts a Gaussian blur of the width fitted to
#   the image's spectrum, in the frequency domain, damped where noise would dominate (what the
#   automatic policy uses);
# - **Richardson-Lucy** (`filters.richardson_lucy`) inverts the same blur iteratively;
# - the **learned restorer** was trained on blurred examples too, and sharpens without being told
#   the blur.
#
# Below: Gaussian blur of 1.5 pixels and a little noise (sigma 2), as in a slightly soft scan.

# %%
soft = degrade(clean, blur=1.5, noise=2, seed=4)
q = assess(soft)
print(f"{name}: true blur 1.5 px, noise 2; measured blur {q.blur_sigma:.2f} px (edge width), "
      f"{q.spectral_blur_sigma:.2f} px (spectral fit), noise {q.noise_sigma:.1f}")
table, sharpened = compare(clean, soft, {
    "client 3x3 kernel": filters.client_laplacian,
    "unsharp (noise-aware)": lambda x: filters.unsharp(x, noise_sigma=q.noise_sigma),
    "Wiener": lambda x: filters.wiener(x, q.spectral_blur_sigma, q.noise_sigma),
    "Richardson-Lucy": lambda x: filters.richardson_lucy(x, q.spectral_blur_sigma),
    "learned restorer": lambda x: enhance(x, EnhanceConfig(method="restorer")).pixels,
})
display(table.round(3))
show(crops(clean, soft, sharpened, f"{name}: blur 1.5, noise 2"))

# %% [markdown]
# ## The compromise, measured
#
# **Denoising removes detail.** A denoiser cannot tell fine texture from noise of the same size:
# the stronger it is, the more texture goes with the noise. The sweep below runs non-local means
# on the noisy images (sigma 25) at strengths `h` from a fraction to several times the measured
# sigma. PSNR and SSIM against the clean image rise while noise goes, peak, then fall as detail
# goes. The last panel shows what the strongest setting took away (clean minus denoised): the
# edges and textures of the picture, not just noise.

# %%
ratios = [0.2, 0.4, 0.6, 0.8, 1.0, 1.3, 1.7, 2.2, 3.0] if FAST else list(np.round(np.arange(0.1, 3.01, 0.1), 2))
rows = []
for name, clean in images.items():
    noisy = degrade(clean, noise=25, seed=5)
    sigma = estimate_noise(noisy)
    for ratio in ratios:
        out = filters.nlm(noisy, sigma, h_ratio=ratio)
        rows.append({"image": name, "h / sigma": ratio, "PSNR dB": psnr(clean, out), "SSIM": ssim(clean, out)})
sweep = pd.DataFrame(rows).groupby("h / sigma")[["PSNR dB", "SSIM"]].mean()
best = sweep["PSNR dB"].idxmax()
print(f"mean over {len(images)} images: best h = {best} x sigma ({sweep.loc[best, 'PSNR dB']:.2f} dB, "
      f"SSIM {sweep.loc[best, 'SSIM']:.3f}); at {ratios[-1]} x sigma {sweep['PSNR dB'].iloc[-1]:.2f} dB, "
      f"SSIM {sweep['SSIM'].iloc[-1]:.3f}")

fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
axes[0].plot(sweep.index, sweep["PSNR dB"], marker="o")
axes[1].plot(sweep.index, sweep["SSIM"], marker="o", color="C1")
for ax, label in zip(axes[:2], ("PSNR (dB)", "SSIM")):
    ax.axvline(best, color="grey", linestyle=":")
    ax.set(xlabel="NLM strength h / measured sigma", ylabel=label, title=f"{label} against strength (noise 25)")
    ax.grid(alpha=0.3)
clean = next(iter(images.values()))
noisy = degrade(clean, noise=25, seed=5)
sigma = estimate_noise(noisy)
strengths = {f"h = {r} x sigma": filters.nlm(noisy, sigma, h_ratio=r) for r in (ratios[0], best, ratios[-1])}
removed = clean.astype(float) - strengths[f"h = {ratios[-1]} x sigma"]
axes[2].imshow(np.abs(removed).mean(axis=2), cmap="magma", vmax=40)
axes[2].set_title(f"detail removed at h = {ratios[-1]} x sigma")
axes[2].axis("off")
fig.tight_layout()
show(fig)
show(crops(clean, noisy, strengths, "too weak, best, too strong"))

# %% [markdown]
# **Sharpening brings noise out.** A sharpener amplifies high frequencies, and noise is mostly
# high frequencies. The sweep below applies plain unsharp masking (no noise awareness) at
# increasing amounts to images blurred by 1.5 pixels with noise of sigma 2 and of sigma 8. With
# little noise the image gains up to a point; with more noise, sharpening soon makes it worse,
# and the measured noise of the output climbs with the amount. The client's kernel is a fixed,
# strong point on this curve (printed for comparison).

# %%
amounts = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0] if FAST else list(np.round(np.arange(0.0, 4.01, 0.25), 2))
rows = []
for name, clean in images.items():
    for noise in (2, 8):
        soft = degrade(clean, blur=1.5, noise=noise, seed=6)
        rows.append({"image": name, "noise": noise, "amount": "client kernel",
                     "PSNR dB": psnr(clean, out := filters.client_laplacian(soft)), "output noise": estimate_noise(out)})
        for amount in amounts:
            out = filters.unsharp(soft, radius=1.5, amount=amount)
            rows.append({"image": name, "noise": noise, "amount": amount, "PSNR dB": psnr(clean, out),
                         "output noise": estimate_noise(out)})
sharp_sweep = pd.DataFrame(rows).groupby(["noise", "amount"], sort=False)[["PSNR dB", "output noise"]].mean()
client_rows = sharp_sweep.xs("client kernel", level="amount")
for noise in (2, 8):
    curve = sharp_sweep.loc[noise].drop("client kernel")
    print(f"noise {noise}: input {curve.loc[0.0, 'PSNR dB']:.2f} dB, best amount {curve['PSNR dB'].idxmax()} "
          f"({curve['PSNR dB'].max():.2f} dB), amount {amounts[-1]}: {curve['PSNR dB'].iloc[-1]:.2f} dB with output "
          f"noise {curve['output noise'].iloc[-1]:.1f}; client kernel {client_rows.loc[noise, 'PSNR dB']:.2f} dB, "
          f"output noise {client_rows.loc[noise, 'output noise']:.1f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for noise in (2, 8):
    curve = sharp_sweep.loc[noise].drop("client kernel")
    x = curve.index.astype(float)
    axes[0].plot(x, curve["PSNR dB"], marker="o", label=f"noise {noise}")
    axes[1].plot(x, curve["output noise"], marker="o", label=f"noise {noise}")
    axes[0].axhline(client_rows.loc[noise, "PSNR dB"], color=f"C{noise == 8:d}", linestyle="--", linewidth=1,
                    label=f"client kernel, noise {noise}")
axes[0].set(xlabel="unsharp amount", ylabel="PSNR (dB)", title="PSNR against sharpening (blur 1.5)")
axes[1].set(xlabel="unsharp amount", ylabel="measured noise sigma of the output", title="noise brought out")
for ax in axes:
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
fig.tight_layout()
show(fig)
clean = next(iter(images.values()))
soft = degrade(clean, blur=1.5, noise=8, seed=6)
outputs = {f"unsharp {a}": filters.unsharp(soft, radius=1.5, amount=a) for a in (1.0, amounts[-1])}
show(crops(clean, soft, {**outputs, "client kernel": filters.client_laplacian(soft)}, "blur 1.5, noise 8: sharpened"))

# %% [markdown]
# ## The automatic policy
#
# `enhance` measures each image (`assess`), then decides which operations to apply, in which
# order and at which strength, and records the decision in `steps`: below a noise floor it does not
# denoise, below a blur floor it does not deblur; it picks the denoiser from the measurements (the
# learned restorer for colour images with noise sigma 10 or more, where it measured best on dev, a
# classical filter otherwise), deblurs only when little noise remains, and if the result came out noisier than the
# input it returns the input. Three guards keep it from harming what it misreads: a denoising that
# changed the image less than the measured noise explains is undone (fine texture read as noise);
# pages and line drawings (mostly paper and ink, `Quality.is_line_art`) are judged by the noise of
# their paper, not of their strokes; a deconvolution that clips many new pixels is undone. JPEG
# blocking (`Quality.blockiness`, steps on the 8-pixel grid) is lightly smoothed on photographs
# and left alone on pages, where smoothing would soften the strokes. Before all of this, a printed
# halftone screen (the dot lattice of a photograph printed in a book or a newspaper, found by its
# peaks in the power spectrum: `tounum.enhance.descreen`) is removed by the learned descreener (the
# restorer's network trained on printed patches; a Gaussian low-pass with `descreener = "gaussian"`)
# and nothing else is done, since the noise measure reads the dots as strong noise. It must never make an image
# worse: a clean image comes back essentially unchanged. Its settings, and the decisions it took on
# one image under each condition:

# %%
print(EnhanceConfig())
conditions = {"clean": {}, "noise 15": {"noise": 15}, "noise 25": {"noise": 25}, "noise 50": {"noise": 50},
              "blur 1.5 + noise 2": {"blur": 1.5, "noise": 2}, "JPEG q20": {"jpeg": 20}}
name, clean = next(iter(images.items()))
cases = {condition: degrade(clean, seed=7, **params) for condition, params in conditions.items()}
cases["halftone, period 4"] = halftone(clean, 4.0, 45.0)  # the photograph printed, then scanned
for condition, image in cases.items():
    result = enhance(image)
    steps = "; ".join(", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in step.items())
                      for step in result.steps) or "(nothing: left unchanged)"
    print(f"{condition:20s} noise {result.quality_before.noise_sigma:5.1f} -> {result.quality_after.noise_sigma:5.1f}: {steps}")

# %% [markdown]
# The printed case up close: the screen removed by a Gaussian low-pass of 0.8 screen periods (what
# the classifier does before its backbone) and by the learned descreener (the restorer's network
# trained on halftoned patches, the policy's default). PSNR against the photograph before printing;
# `benchmarks/enhance_descreen.py` measures both on whole data sets.

# %%
printed = cases["halftone, period 4"]
show(crops(clean, printed, {"low-pass": enhance(printed, EnhanceConfig(descreener="gaussian")).pixels,
                            "learned": enhance(printed).pixels}, f"{name}: halftone, period 4"))

# %% [markdown]
# ## The client's filters against ours, measured
#
# Each clean image is degraded, then restored *blind* by each method; PSNR and SSIM are measured
# against the clean image (means over the images), with the time per megapixel on this shared
# machine. "client NLM" and "client 3x3 kernel" are the prototype's two filters applied to every
# image; "client policy" is the prototype's decision rule (NLM when `estimate_sigma` sees noise,
# then the kernel when the variance of the Laplacian is low); "tounum auto" is the automatic
# policy, and "learned restorer" the CNN alone. For the clean condition the PSNR is against the input itself, so a method that does no
# harm scores high; an image returned untouched has an infinite PSNR, so that row's mean is over the
# images a method changed, and the line under the tables counts the untouched ones. Fast mode runs
# four of the conditions.

# %%
benchmark_conditions = conditions if not FAST else {k: conditions[k] for k in
                                                    ("clean", "noise 25", "noise 50", "blur 1.5 + noise 2")}
methods = {label: (lambda x, m=method: enhance(x, EnhanceConfig(method=m)).pixels)
           for label, method in (("client NLM", "client_nlm"), ("client 3x3 kernel", "client_laplacian"),
                                 ("client policy", "client"), ("tounum auto", "auto"),
                                 ("learned restorer", "restorer"))}
rows = []
for condition, params in benchmark_conditions.items():
    for name, clean in images.items():
        degraded = degrade(clean, seed=8, **params)
        table, _ = compare(clean, degraded, methods)
        rows += [{"condition": condition, "method": method, **values} for method, values in table.iterrows()]
scores = pd.DataFrame(rows)
untouched = scores[np.isinf(scores["PSNR dB"])].groupby("method", sort=False).size()
benchmark = scores.replace(np.inf, np.nan).groupby(["condition", "method"], sort=False).mean(numeric_only=True)
psnr_table = benchmark["PSNR dB"].unstack("method")
display(psnr_table.round(2))
display(benchmark["SSIM"].unstack("method").round(3))
display(benchmark["s/MP"].unstack("method").drop(columns="degraded input").round(2))
gain = psnr_table["tounum auto"] - psnr_table[["client NLM", "client 3x3 kernel", "client policy"]].max(axis=1)
print(f"{len(images)} images{' (256x256 crops)' if FAST else ''}; tounum auto minus the best client method, dB: "
      + ", ".join(f"{c} {g:+.2f}" for c, g in gain.items()))
print("clean images returned untouched: " + ", ".join(f"{m} {untouched.get(m, 0)} of {len(images)}"
                                                       for m in methods))

# %%
fig, ax = plt.subplots(figsize=(10, 3.8))
psnr_table.plot.bar(ax=ax, rot=0)
ax.set(ylabel="PSNR (dB)", xlabel="", title="Blind restoration: the client's filters against the automatic policy")
ax.set_ylim(max(0, psnr_table.min().min() - 5), psnr_table.max().max() + 2)
ax.legend(fontsize=8)
fig.tight_layout()
show(fig)

# %% [markdown]
# The figures on the full CBSD68 set and on Set12, for every filter at every noise and blur
# level, are in `benchmarks/README.md` (enhancement section), produced by the benchmark script;
# run this notebook with `FAST = False` to reproduce the table above on all 68 images at full size.
