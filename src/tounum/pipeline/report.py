"""`report.html`: one self-contained page to check a batch (inline thumbnails and plots).

Built from the results table only (plus a bounded number of thumbnails read back from the
inputs and the enhanced copies), so its cost does not grow with the images' sizes.
"""

from __future__ import annotations

import base64
import html
import io as stdio
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tounum.config import Config, dumps
from tounum.pipeline.record import QUALITY_MEASURES

log = logging.getLogger(__name__)

THUMB_SIZE = 220
MAX_ERRORS_SHOWN = 500
MEASURE_NAMES = {"noise": "noise sigma", "sharpness": "sharpness",
                 "laplacian_var": "Laplacian variance (the client's)"}
STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
h1{margin-bottom:0}.sub{color:#666;margin-top:.2em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:14px}.card{width:460px;border:1px solid #ddd;padding:6px}
.card.one{width:230px}.card img{max-width:220px;max-height:220px;vertical-align:top}
.cap{font-size:.9em;margin-top:4px}.path{font-family:monospace;font-size:.8em;color:#555;
word-break:break-all}.err{color:#a00}
"""


def render(table: pd.DataFrame, out_dir: Path, config: Config | None = None) -> str:
    """The report of a results table as one HTML string (no external files or links)."""
    config = config or Config()
    n_thumbs = config.run.report_thumbnails
    ok = table[table["status"] == "ok"]
    counts = table["status"].value_counts()
    parts = [
        f"<h1>tounum report</h1><p class=sub>{len(table)} inputs: {int(counts.get('ok', 0))} ok, "
        f"{int(counts.get('error', 0))} failed, {int(counts.get('skipped', 0))} skipped. "
        f"Output folder: <span class=path>{_e(out_dir)}</span></p>",
        _classes_section(ok),
        _quality_section(ok),
        _timing_section(ok),
        _enhanced_section(ok, out_dir, n_thumbs),
        _captions_section(ok, out_dir, n_thumbs),
        _errors_section(table[table["status"] != "ok"]),
        f"<details><summary>Settings of this run</summary><pre>{_e(dumps(config))}</pre></details>",
    ]
    body = "\n".join(p for p in parts if p)
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>tounum report"
            f"</title><style>{STYLE}</style></head><body>{body}</body></html>\n")


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """The client's table: min, max, median and mean of each measurement before and after."""
    rows = {}
    for measure in QUALITY_MEASURES:
        for when in ("before", "after"):
            values = pd.to_numeric(table[f"{measure}_{when}"], errors="coerce").dropna()
            rows[f"{MEASURE_NAMES.get(measure, measure)}, {when}"] = {
                "n": len(values), "min": values.min(), "max": values.max(),
                "median": values.median(), "mean": values.mean()}
    return pd.DataFrame.from_dict(rows, orient="index")


def _classes_section(ok: pd.DataFrame) -> str:
    if ok["doc_type"].fillna("").eq("").all():
        return "<h2>Document types</h2><p>Not classified in this run.</p>"
    counts = ok["doc_type"].replace("", "(none)").value_counts()
    rows = "".join(f"<tr><td class=l>{_e(k)}</td><td>{v}</td></tr>" for k, v in counts.items())
    fig, ax = _figure(5, 2.8)
    ax.bar(counts.index.astype(str), counts.values, color="#4a7ab0")
    ax.set_ylabel("images")
    ax.set_title("Document types")
    return (f"<h2>Document types</h2><table><tr><th class=l>type</th><th>images</th></tr>"
            f"{rows}</table>{_png(fig)}")


def _quality_section(ok: pd.DataFrame) -> str:
    stats = summary_table(ok)
    if stats["n"].sum() == 0:
        return "<h2>Quality</h2><p>Not measured in this run (enhancement was off).</p>"
    head = "".join(f"<th>{c}</th>" for c in stats.columns)
    rows = "".join(
        f"<tr><td class=l>{_e(name)}</td>" + "".join(f"<td>{_num(v)}</td>" for v in row) + "</tr>"
        for name, row in stats.iterrows())
    fig, axes = _figure(9, 3, ncols=len(QUALITY_MEASURES))
    for ax, measure in zip(np.atleast_1d(axes), QUALITY_MEASURES, strict=True):
        data = [pd.to_numeric(ok[f"{measure}_{w}"], errors="coerce").dropna() for w in
                ("before", "after")]
        ax.boxplot(data, tick_labels=["before", "after"])
        ax.set_title(MEASURE_NAMES.get(measure, measure), fontsize=9)
        if measure == "laplacian_var" and all(len(d) and d.min() > 0 for d in data):
            ax.set_yscale("log")  # spans decades between a blurred photo and a text page
    return (f"<h2>Quality before and after enhancement</h2><table><tr><th class=l>measurement"
            f"</th>{head}</tr>{rows}</table>{_png(fig)}")


def _timing_section(ok: pd.DataFrame) -> str:
    columns = [c for c in ("t_read", "t_enhance", "t_features", "t_classify", "t_caption",
                           "t_write", "t_total") if pd.to_numeric(ok[c], errors="coerce").notna().any()]
    if not columns:
        return ""
    means = {c: pd.to_numeric(ok[c], errors="coerce").mean() for c in columns}
    cells = "".join(f"<td>{means[c] * 1000:.1f}</td>" for c in columns)
    head = "".join(f"<th>{c[2:]}</th>" for c in columns)
    return (f"<h2>Time per image (ms, mean)</h2><table><tr>{head}</tr><tr>{cells}</tr></table>"
            f"<p class=sub>Batched model time is shared equally by the images of a batch.</p>")


def _enhanced_section(ok: pd.DataFrame, out_dir: Path, limit: int) -> str:
    if ok["enhance_steps"].fillna("").eq("").all():
        return "<h2>Enhanced images</h2><p>Enhancement was off in this run.</p>"
    changed = ok[ok["enhance_steps"].map(_changed) & ok["enhanced_path"].fillna("").ne("")]
    if changed.empty:
        return "<h2>Enhanced images</h2><p>No image was changed by the enhancement.</p>"
    gain = (pd.to_numeric(changed["noise_before"], errors="coerce")
            - pd.to_numeric(changed["noise_after"], errors="coerce")).abs().fillna(0)
    shown = changed.loc[gain.sort_values(ascending=False).index[:limit]]
    cards = []
    for row in shown.itertuples(index=False):
        before = _thumb(Path(row.root) / row.path)
        after = _thumb(out_dir / row.enhanced_path)
        steps = ", ".join(s.get("op", "?") for s in json.loads(row.enhance_steps) if _applied(s))
        cards.append(
            f"<div class=card>{before}{after}<div class=cap>{_e(steps)}: noise "
            f"{_num(row.noise_before)} → {_num(row.noise_after)}, sharpness "
            f"{_num(row.sharpness_before)} → {_num(row.sharpness_after)}</div>"
            f"<div class=path>{_e(row.path)}</div></div>")
    return (f"<h2>Enhanced images (before | after)</h2><p class=sub>{len(changed)} changed; "
            f"showing {len(shown)} with the largest change in noise.</p>"
            f"<div class=grid>{''.join(cards)}</div>")


def _applied(step: dict[str, Any]) -> bool:
    return step.get("op") not in (None, "none")


def _changed(steps: Any) -> bool:
    """Whether the JSON list of enhancement steps changed the pixels (not only tried)."""
    return isinstance(steps, str) and bool(steps) and any(_applied(s) for s in json.loads(steps))


def _captions_section(ok: pd.DataFrame, out_dir: Path, limit: int) -> str:
    photos = ok[ok["caption"].fillna("").ne("")]
    if photos.empty:
        return "<h2>Photos and captions</h2><p>No captions in this run.</p>"
    cards = []
    for row in photos.head(limit).itertuples(index=False):
        source = out_dir / row.enhanced_path if row.enhanced_path else Path(row.root) / row.path
        cards.append(f"<div class='card one'>{_thumb(source)}<div class=cap>{_e(row.caption)}"
                     f"</div><div class=path>{_e(row.path)}</div></div>")
    return (f"<h2>Photos and captions</h2><p class=sub>{len(photos)} photos captioned; showing "
            f"{min(limit, len(photos))}.</p><div class=grid>{''.join(cards)}</div>")


def _errors_section(bad: pd.DataFrame) -> str:
    if bad.empty:
        return "<h2>Errors</h2><p>None.</p>"
    rows = "".join(f"<tr><td class=l>{_e(r.status)}</td><td class='l path'>{_e(r.path)}</td>"
                   f"<td class='l err'>{_e(r.error)}</td></tr>"
                   for r in bad.head(MAX_ERRORS_SHOWN).itertuples(index=False))
    more = (f"<p>{len(bad) - MAX_ERRORS_SHOWN} more in results.csv.</p>"
            if len(bad) > MAX_ERRORS_SHOWN else "")
    return (f"<h2>Errors ({len(bad)})</h2><table><tr><th class=l>status</th><th class=l>path</th>"
            f"<th class=l>message</th></tr>{rows}</table>{more}")


def _thumb(path: Path) -> str:
    """A small inline JPEG of an image file, or a note when it cannot be read."""
    from PIL import Image

    from tounum.io import ImageReadError, read_image

    try:
        pixels = read_image(path).pixels
    except (ImageReadError, OSError) as exc:
        return f"<span class=err>{_e(exc)}</span>"
    image = Image.fromarray(pixels)
    image.thumbnail((THUMB_SIZE, THUMB_SIZE))
    buffer = stdio.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f"<img alt='{_e(path.name)}' src='data:image/jpeg;base64,{data}'>"


def _figure(width: float, height: float, ncols: int = 1) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width, height), layout="constrained")


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = stdio.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return f"<img alt=plot src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'>"


def _num(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"{float(value):.3g}"


def _e(value: Any) -> str:
    return html.escape(str(value))
