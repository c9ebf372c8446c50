"""`tounum info`: versions, installed models and cache folders."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
from pathlib import Path
from typing import Any

from tounum import __version__
from tounum.config import cache_dir

MODELS_DIR = Path(__file__).parent / "models"
PACKAGES = ("tensorflow-cpu", "keras", "numpy", "pandas", "imageio", "pillow", "scikit-image",
            "scikit-learn", "opencv-python-headless", "dask", "distributed")


def installed_models() -> dict[str, dict[str, Any]]:
    """Shipped models: one folder each under ``tounum/models`` with a ``model_card.md``."""
    found = {}
    for folder in sorted(p for p in MODELS_DIR.iterdir() if p.is_dir()):
        metrics = folder / "metrics.json"
        found[folder.name] = {
            "path": str(folder),
            "card": (folder / "model_card.md").is_file(),
            "metrics": json.loads(metrics.read_text()) if metrics.is_file() else None,
        }
    return found


def info() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "tounum": __version__,
        "python": platform.python_version(),
        "packages": versions,
        "models": installed_models(),
        "cache_dir": str(cache_dir()),
    }


def _run(args: argparse.Namespace) -> int:
    report = info()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"tounum {report['tounum']} (Python {report['python']})")
    for name, version in report["packages"].items():
        print(f"  {name:24s} {version or 'not installed'}")
    print("models:")
    for name, model in report["models"].items() or {}:
        print(f"  {name:24s} {model['path']}{'' if model['card'] else '  (no model card!)'}")
    if not report["models"]:
        print("  (none installed)")
    print(f"cache: {report['cache_dir']}")
    return 0


def register(commands: Any, train: Any, evaluate: Any) -> None:
    parser = commands.add_parser("info", help="versions, installed models and caches")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_run)
