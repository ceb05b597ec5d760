"""The ``vidpose`` command line.

Each sub-command lives in its own module of this package with two functions,
``add_arguments(parser)`` and ``main(args) -> int``; ``COMMANDS`` lists them.
Command modules import heavy libraries inside ``main`` so ``vidpose --help``
stays fast. A new command is one module plus one line here.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from vidpose.errors import VidposeError

COMMANDS: dict[str, str] = {
    "run": "Estimate poses in a video, image folder, image or webcam.",
    "demo": "Run the full pipeline on the bundled sample clip.",
    "models": "List or fetch pretrained model files.",
    "eval": "Score predictions against ground truth.",
    "synth": "Generate synthetic videos with exact ground truth.",
    "train": "Train a model from a TOML config.",
    "export": "Export a checkpoint to ONNX.",
    "bench": "Run a benchmark suite.",
}


def build_parser() -> argparse.ArgumentParser:
    from vidpose import __version__

    parser = argparse.ArgumentParser(prog="vidpose", description="Human pose estimation in video.")
    parser.add_argument("--version", action="version", version=f"vidpose {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_ in COMMANDS.items():
        mod = importlib.import_module(f"vidpose.cli.{name}_cmd")
        p = sub.add_parser(name, help=help_, description=help_)
        mod.add_arguments(p)
        p.set_defaults(_main=mod.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_main", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args._main(args) or 0)
    except VidposeError as e:
        print(f"vidpose: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vidpose: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
