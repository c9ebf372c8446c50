# %% [markdown]
# # 4. The whole workflow: a folder of scans in, cleaned, classified and captioned results out
#
# A digitisation shop points `tounum run` at a day's scans. For every file it reads the image
# safely, measures its noise and blur, cleans it by the automatic policy (notebook 1), computes the
# backbone features once, classifies the document type (notebook 2), captions the photographs
# (notebook 3), and writes:
#
# - `enhanced/`: the cleaned copies, mirroring the input tree, with the caption and the document
#   type embedded in their XMP/IPTC metadata;
# - `results.csv` / `results.parquet`: one row per input file, errors included;
# - `captions.json`: the captions in the COCO results format;
# - `report.html`: a self-contained page to check the batch.
#
# This notebook runs the library function behind the command, `tounum.pipeline.run.run`, on a
# sample folder made by `tounum.pipeline.demo` (the same folder `make demo` uses), then looks at
# each output. On the command line the same run is
# `tounum run WORK_DIR/scans --out WORK_DIR/results`.

# %% tags=["parameters"]
FAST = True  # True: small images, one process; False: full-size images, one process per core
DATA_DIR = ""  # the shared data folder (unused here: the sample scans come from the dependencies)
WORK_DIR = ""  # where the scans and the results are written; empty: a temporary folder
CONFIG = ""  # a tounum run configuration file (TOML); empty: the defaults

# %%
import json
import shutil
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

import tounum
from tounum.config import Config, dumps, load
from tounum.io import read_image, read_metadata
from tounum.pipeline.demo import BAD_FILES, write_scans
from tounum.pipeline.run import run

from helpers import folders, show  # notebooks/helpers.py: paths and figure display

DATA_DIR, WORK_DIR = folders(DATA_DIR, WORK_DIR, "04")
print(f"tounum {tounum.__version__}; FAST={FAST}; writing into {WORK_DIR}")

# %% [markdown]
# ## The sample folder
#
# `write_scans` renders a mixed day of scans from images that ship inside scikit-image,
# scikit-learn and Matplotlib: photographs (some with added noise or blur), typed pages, charts,
# box-and-arrow diagrams and line drawings, plus a few files that are not images at all (an empty
# file, a truncated JPEG, a text file named `.png`), which must end as error rows, not as a crash.
# In fast mode the images are reduced to a long side of 512 pixels.

# %%
scans = WORK_DIR / "scans"
if scans.exists():
    shutil.rmtree(scans)
files = write_scans(scans, long_side=512 if FAST else None)
print(f"{len(files)} files in {scans}, of which {len(BAD_FILES)} are deliberately broken")
print(pd.Series([f.relative_to(scans).parts[0] for f in files]).value_counts().to_string())

# %%
good = [f for f in files if f.relative_to(scans).as_posix() not in BAD_FILES]
columns = 8
fig, axes = plt.subplots(-(-len(good) // columns), columns, figsize=(2 * columns, 2.1 * -(-len(good) // columns)))
for ax in axes.flat:
    ax.axis("off")
for ax, path in zip(axes.flat, good):
    ax.imshow(read_image(path).pixels)
    ax.set_title(path.relative_to(scans).as_posix(), fontsize=7)
fig.suptitle("The input scans")
fig.tight_layout()
show(fig)

# %% [markdown]
# ## The configuration
#
# Every setting lives in one configuration (`tounum.config.Config`, dataclasses with defaults);
# `tounum run --print-config` prints it as TOML and `--config FILE` overrides any field. Here
# the defaults (or the `CONFIG` file) are used, with the number of worker processes set for this run.

# %%
config = load(CONFIG) if CONFIG else Config()
config.run.workers = 1 if FAST else 0  # 0: one process per core for reading and cleaning
print(dumps(config))

# %% [markdown]
# ## A dry run, then the run
#
# `dry_run=True` lists what would be done without writing anything. The real run then processes
# every file; the output folder is emptied first so that the timings below are those of a full run.

# %%
results = WORK_DIR / "results"
if results.exists():
    shutil.rmtree(results)
planned = run([scans], results, config, dry_run=True, progress=False)
print(pd.DataFrame(planned.planned, columns=["action", "path"])["action"].value_counts().to_string())

# %%
start = time.perf_counter()
summary = run([scans], results, config, progress=False)
wall = time.perf_counter() - start
print(f"{summary.total} inputs: {summary.ok} ok, {summary.errors} errors, {summary.skipped} skipped "
      f"in {wall:.1f} s ({summary.ok / wall:.2f} images/s, model loading included); "
      f"exit code {summary.exit_code}")
for name, path in summary.outputs.items():
    print(f"  {name:10s} {Path(path).relative_to(WORK_DIR)}")

# %% [markdown]
# The exit code is 1 because some inputs failed (the planted bad files): a shop's script can tell
# "all good" from "look at the errors" without parsing anything.
#
# ## The results table
#
# One row per input file. The main columns:

# %%
table = pd.read_parquet(results / "results.parquet")
print(f"{len(table)} rows x {len(table.columns)} columns: {', '.join(table.columns)}")
shown = ["path", "status", "doc_type", "p_photo", "is_photo", "caption", "noise_before",
         "noise_after", "sharpness_before", "sharpness_after"]
with pd.option_context("display.max_colwidth", 60, "display.width", 200):
    display(table[shown].round(3))

# %% [markdown]
# Every broken file has a row with `status=error` and a message naming the file and the problem;
# the batch went on without them.

# %%
errors = table[table["status"] != "ok"][["path", "status", "error"]]
with pd.option_context("display.max_colwidth", 120):
    display(errors)
print(f"planted bad files with an error row: {sorted(set(errors['path']) & set(BAD_FILES))}")

# %% [markdown]
# ## Document types
#
# Counts per predicted type, against the folder each sample was put in by the demo (the folders
# are a rough truth: `drawings/` holds sketches, `diagrams/` schematics; `documents/` holds typed
# pages, which are text, and charts, which the five classes can only call schematics).

# %%
ok = table[table["status"] == "ok"].copy()
ok["folder"] = ok["path"].str.split("/").str[0]
display(pd.crosstab(ok["folder"], ok["doc_type"], margins=True))

# %% [markdown]
# ## Captions of the photos
#
# The images whose `is_photo` decision is true are captioned. That decision is a recall-first
# threshold on the photo probability (notebook 2: missing a photo costs more than captioning a
# painting), so it can be true for an image whose most probable type is another one; the cell
# counts them. Each caption is also embedded in the enhanced copy's metadata; it is read back here
# from the file with `tounum.io.read_metadata`.

# %%
photos = ok[ok["is_photo"].astype(bool)]
print(f"{len(photos)} of {len(ok)} images with is_photo true and captioned, "
      f"{int((photos['doc_type'] != 'photo').sum())} of them with another most probable type")
columns = 4
rows = max(1, -(-len(photos) // columns))
fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.6 * rows), squeeze=False)
for ax in axes.flat:
    ax.axis("off")
for ax, row in zip(axes.flat, photos.itertuples()):
    ax.imshow(read_image(results / row.enhanced_path).pixels)
    ax.set_title(f"{row.path}\n{row.caption}", fontsize=8, wrap=True)
fig.tight_layout()
show(fig)
if len(photos):
    first = photos.iloc[0]
    print(f"metadata read back from {first['enhanced_path']}:")
    print(json.dumps(read_metadata(results / first["enhanced_path"]), indent=1, default=str)[:800])

# %% [markdown]
# ## What the cleaning did
#
# The quality measurements before and after, and the steps the automatic policy chose for each
# image (the client's summary table, as in the report: minimum, maximum, median and mean). Below
# them, a detail of the images whose noise dropped most and of the deblurred ones, before and after.

# %%
from tounum.pipeline.report import summary_table

display(summary_table(ok).round(3))
steps = ok["enhance_steps"].fillna("[]").map(lambda s: ", ".join(step["op"] for step in json.loads(s)) or "(unchanged)")
display(pd.DataFrame({"path": ok["path"], "steps": steps}).reset_index(drop=True))

# %%
changed = ok[steps != "(unchanged)"]
denoised = (changed["noise_before"] - changed["noise_after"]).nlargest(2).index  # the largest noise drops
deblurred = changed.index[steps[changed.index].str.contains("wiener|richardson_lucy|unsharp|restorer")][:2]
changed = changed.loc[list(dict.fromkeys([*denoised, *deblurred]))]
if len(changed):
    fig, axes = plt.subplots(len(changed), 2, figsize=(9, 4 * len(changed)), squeeze=False)
    for (left, right), row in zip(axes, changed.itertuples()):
        before, after = read_image(scans / row.path).pixels, read_image(results / row.enhanced_path).pixels
        h, w = before.shape[:2]
        crop = (slice(h // 3, h // 3 + h // 3), slice(w // 3, w // 3 + w // 3))  # a detail
        left.imshow(before[crop])
        left.set_title(f"{row.path}: before (noise {row.noise_before:.1f}, sharpness {row.sharpness_before:.2f})",
                       fontsize=8)
        right.imshow(after[crop])
        right.set_title(f"after {steps[row.Index]} (noise {row.noise_after:.1f}, sharpness {row.sharpness_after:.2f})",
                        fontsize=8)
        left.axis("off")
        right.axis("off")
    fig.tight_layout()
    show(fig)
else:
    print("no image was changed by the enhancement")

# %% [markdown]
# ## Timings
#
# Each row records the seconds spent in each step (batched model time is shared equally by the
# images of a batch). The machine these notebooks run on is shared, so absolute figures vary;
# the benchmark in `benchmarks/` measures throughput properly.

# %%
steps_t = ["t_read", "t_enhance", "t_features", "t_classify", "t_caption", "t_write"]
per_step = ok[steps_t].apply(pd.to_numeric, errors="coerce")
timing = pd.DataFrame({"total s": per_step.sum(), "mean ms per image": per_step.mean() * 1000})
display(timing.round(1))
print(f"sum of the steps: {per_step.sum().sum():.1f} s for {len(ok)} images; wall time of the run "
      f"{wall:.1f} s (the difference is model loading, discovery and the report)")
fig, ax = plt.subplots(figsize=(7, 3))
ax.barh([s[2:] for s in steps_t], per_step.sum().values, color="#4a7ab0")
ax.set_xlabel("seconds, all images")
ax.set_title("Where the time goes")
fig.tight_layout()
show(fig)

# %% [markdown]
# ## Resuming
#
# Rerunning the same command skips the files already done (same content, same settings) and
# rebuilds the tables; only the failed files are tried again. A run killed at any instant resumes
# the same way.

# %%
start = time.perf_counter()
again = run([scans], results, config, progress=False)
print(f"rerun: {again.reused} inputs reused, {again.processed} processed again (the failed ones) "
      f"in {time.perf_counter() - start:.1f} s; {len(pd.read_csv(results / 'results.csv'))} rows")

# %% [markdown]
# ## The report
#
# `report.html` is one self-contained file (plots and thumbnails inline) that a person opens to
# check the batch. It is shown below as it appears in a browser.

# %%
report = (results / "report.html").read_text(encoding="utf-8")
print(f"{results / 'report.html'}: {len(report) / 1e6:.2f} MB")
srcdoc = report.replace("&", "&amp;").replace('"', "&quot;")
display({"text/html": f'<iframe srcdoc="{srcdoc}" style="width:100%;height:900px;border:1px solid #ccc"></iframe>'},
        raw=True)
