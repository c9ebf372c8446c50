"""`tounum run`: the main job on a folder of scans (see `tounum.pipeline.run`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from tounum.cli import EPILOG

log = logging.getLogger(__name__)

DESCRIPTION = """\
Clean, classify and caption every image under INPUT... and write into DIR:
  enhanced/        cleaned copies mirroring the input tree (caption and type in XMP/IPTC)
  results.csv      one row per input (status ok/error/skipped, error message, measurements,
  results.parquet  class probabilities, caption, enhancement steps, timings)
  captions.json    the photos' captions (COCO results, with image sizes and paths)
  report.html      a self-contained page to check the batch
Originals are never modified and nothing is written outside DIR. Rerunning the same command
resumes: finished files are skipped (by content hash and settings), failed ones are retried.
Settings: defaults < --config FILE (TOML, as --print-config writes it) < options given here.
"""


def register(commands: Any, train: Any, evaluate: Any) -> None:
    parser = commands.add_parser(
        "run", help="clean, classify and caption a folder of scans (the main job)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="image files or folders")
    parser.add_argument("--out", metavar="DIR", help="output folder (required)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="processes for decoding and enhancement (0: one per core; 1: none)")
    parser.add_argument("--batch-size", type=int, metavar="B", help="files per batch")
    parser.add_argument("--no-enhance", action="store_true",
                        help="do not clean the images (no enhanced copies)")
    parser.add_argument("--no-classify", action="store_true",
                        help="no features, types or captions (implies --no-caption)")
    parser.add_argument("--no-caption", action="store_true", help="do not caption the photos")
    parser.add_argument("--beam", type=int, metavar="K", help="beam width of the captioner")
    parser.add_argument("--name-by", choices=["caption"],
                        help="name photo copies after their caption (slugged, collision-safe)")
    parser.add_argument("--engine", choices=["local", "dask"], help="where the work runs")
    parser.add_argument("--scheduler", metavar="ADDR",
                        help="Dask scheduler address (tcp://HOST:PORT); default: a local cluster")
    parser.add_argument("--config", metavar="FILE", help="TOML settings file")
    parser.add_argument("--print-config", action="store_true",
                        help="print the effective settings as TOML on stdout and exit")
    parser.add_argument("--dry-run", action="store_true",
                        help="list what would be done (stdout), write nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run, _parser=parser)


def effective_config(args: argparse.Namespace) -> Any:
    """Defaults, then ``--config FILE``, then the options given on the command line."""
    from tounum import config as cfg

    config = cfg.load(args.config) if args.config else cfg.Config()
    run = config.run
    for option, field in (("workers", "workers"), ("batch_size", "batch_size"),
                          ("engine", "engine"), ("scheduler", "scheduler"), ("name_by", "name_by")):
        if getattr(args, option) is not None:
            setattr(run, field, getattr(args, option))
    if args.no_enhance:
        run.enhance = False
    if args.no_classify:
        run.classify = run.caption = False
    if args.no_caption:
        run.caption = False
    if args.beam is not None:
        config.caption.beam = args.beam
    return config


def _run(args: argparse.Namespace) -> int:
    from tounum import config as cfg

    config = effective_config(args)
    if args.print_config:
        sys.stdout.write(cfg.dumps(config))
        return 0
    if not args.inputs or not args.out:
        args._parser.print_usage(sys.stderr)
        print("tounum run: INPUT... and --out DIR are required", file=sys.stderr)
        return 2
    if config.run.engine == "dask":  # also takes fsspec URLs (s3://...) for INPUT and DIR
        from tounum.pipeline.dask import run
    else:
        from tounum.pipeline.run import run

    # TensorFlow's C++ start-up lines would bury the progress bar; -vv shows them.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if args.verbose > 1 else "2")
    summary = run(args.inputs, args.out, config, dry_run=args.dry_run,
                  progress=False if args.no_progress or args.quiet else None)
    if args.dry_run:
        for action, path in summary.planned:
            print(f"{action}\t{path}")
        todo = sum(a == "process" for a, _ in summary.planned)
        print(f"tounum run --dry-run: {todo} to process, {summary.reused} already done, "
              f"{summary.total - todo - summary.reused} unreadable; nothing written", file=sys.stderr)
        return 0
    if not args.quiet:
        print(f"tounum run: {summary.total} inputs: {summary.ok} ok, {summary.errors} failed, "
              f"{summary.skipped} skipped ({summary.reused} from an earlier run) "
              f"in {summary.seconds:.1f} s", file=sys.stderr)
        for name, path in summary.outputs.items():
            print(f"  {name:16s} {path}", file=sys.stderr)
    return summary.exit_code
