"""Where the benchmarks find the shared data sets: ``../shared/data`` beside the repository."""

from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def add_doctype_arguments(parser) -> None:
    """``--data`` (the doctype tree) and ``--extra-photos`` (as the training command had them)."""
    parser.add_argument("--data", default=str(SHARED_DATA / "doctype"), help="folder with train/ and dev/")
    parser.add_argument("--extra-photos", default=str(SHARED_DATA / "captions/flickr8k/images"),
                        help="as in the training command (it changes the held-out part of train)")
