"""`tounum` command line: parse arguments, call the library, print.

Each stage owns its commands in ``tounum/<stage>/cli.py`` with a ``register(commands, train,
evaluate)`` function that adds its sub-parsers (``commands`` for top-level verbs such as
``enhance``, ``train`` and ``evaluate`` for ``tounum train X`` / ``tounum evaluate X``) and sets
``func`` to a handler returning the exit code. Heavy imports (TensorFlow) stay inside handlers,
so that ``tounum --help`` is instant.

Exit codes: 0 success, 1 some inputs failed (results still written), 2 usage or configuration
error.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from tounum import __version__

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2

# Stages that contribute commands, in the order they appear in --help.
STAGE_CLIS = (
    "tounum.pipeline.cli",
    "tounum.enhance.cli",
    "tounum.backbone.cli",
    "tounum.classify.cli",
    "tounum.caption.cli",
    "tounum.info",
)

EPILOG = """exit codes:
  0  every input succeeded
  1  some inputs failed (their rows say why; results are still written)
  2  usage or configuration error
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tounum",
        description="Clean, classify and caption scanned documents, offline.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tounum {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more messages on stderr")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    train = commands.add_parser("train", help="train a model").add_subparsers(
        dest="what", metavar="MODEL", required=True
    )
    evaluate = commands.add_parser("evaluate", help="measure a stage, print JSON").add_subparsers(
        dest="what", metavar="STAGE", required=True
    )
    for name in STAGE_CLIS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a stage that exists but is broken must not hide
                raise
            continue
        module.register(commands, train, evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.ERROR if args.quiet else (logging.DEBUG if args.verbose > 1 else
                                              logging.INFO if args.verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from tounum.config import ConfigError

    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"tounum: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
