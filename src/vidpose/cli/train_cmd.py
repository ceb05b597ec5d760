"""``vidpose train CONFIG.toml [--set section.key=value ...] [--resume] [--out DIR] [--quiet]``.

Under ``torchrun --nproc_per_node N -m vidpose.cli train CONFIG.toml`` the same
command trains with DistributedDataParallel (gloo, CPU).
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="training config (TOML); see docs/training.md and configs/")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config key, e.g. --set optim.lr=5e-4 --set model.input_size=128,96")
    p.add_argument("--resume", action="store_true",
                   help="continue from last.safetensors + train_state.pt in the output folder")
    p.add_argument("--out", metavar="DIR", help="output folder (overrides run.out_dir)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or messages on stderr")


def main(args: argparse.Namespace) -> int:
    import json
    import math
    import os
    import sys

    from vidpose.training.config import load_config

    overrides = list(args.overrides)
    if args.out:
        overrides.append(f"run.out_dir={args.out}")
    cfg = load_config(args.config, overrides)

    from vidpose.errors import InputError
    from vidpose.training.trainer import launched_world_size, train

    try:
        metrics = train(cfg, resume=args.resume, quiet=args.quiet)
    except InputError as e:  # a config fault found while building the run: name the file it came from
        text = str(e)
        if text.startswith("config: "):
            raise InputError(f"{args.config}: {text[len('config: '):]}") from None
        raise
    if not args.quiet and os.environ.get("RANK", "0") == "0":
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()}
        print(json.dumps(clean, sort_keys=True), file=sys.stdout)
    if launched_world_size() > 1:
        _exit_now(0)
    return 0


def _exit_now(code: int) -> None:
    """End a finished torchrun process without the interpreter's teardown.

    After a whole DDP run (the process group destroyed, every file written atomically and closed)
    a process sometimes aborted in the C++ teardown at exit, with no Python frame left:
    "terminate called without an active exception", in one CI run and in 1 of about 110
    back-to-back torchrun runs of a tiny config here (torch 2.13 CPU, gloo). torchrun then reports
    the run as failed. Leaving with ``os._exit`` after flushing the output skips that
    teardown; nothing of the run is lost."""
    import os
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
