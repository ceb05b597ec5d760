"""The ``vidpose`` command line.

Each sub-command lives in its own module of this package with two functions,
``add_arguments(parser)`` and ``main(args) -> int``; ``COMMANDS`` lists them.
Command modules import heavy libraries inside ``main`` so ``vidpose --help``
stays fast. A new command is one module plus one line here.

Failures, the same for every command (:func:`main`):

- a :class:`~vidpose.errors.VidposeError` (bad input, an output that cannot be
  written, a model file that cannot be fetched) prints ``vidpose: error: ...``
  (one line naming the file and the fault) and exits 1;
- any other ``OSError`` (disk full, a folder made read-only mid-run) prints
  the file it names and the system's reason, exit 1;
- SIGINT (Ctrl-C) and SIGTERM raise :class:`~vidpose.errors.Interrupted` (a
  ``KeyboardInterrupt``) in the main thread, so the command unwinds through
  its ``finally``/``except BaseException`` clean-ups (no partial outputs; the
  trainer saves a resumable checkpoint) and exits 130 or 143. Further signals
  while it cleans up are ignored, except that a third one ends the process at
  once;
- any other exception is a bug: one line with its type and message, exit 1;
  ``VIDPOSE_DEBUG=1`` shows the traceback instead.

Commands write every output atomically or in a staging folder, so an error
leaves no partial file. Warnings (vidpose's own and third-party ones that pass
Python's default filters) are printed as one ``vidpose: warning: ...`` line.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator

from vidpose.errors import Interrupted, VidposeError

COMMANDS: dict[str, str] = {
    "run": "Estimate poses in a video, image folder, image or webcam.",
    "demo": "Run the full pipeline on the bundled sample clip.",
    "models": "List or fetch pretrained model files.",
    "eval": "Score predictions against ground truth.",
    "synth": "Generate synthetic videos with exact ground truth.",
    "train": "Train a model from a TOML config.",
    "export": "Export a checkpoint to ONNX.",
    "bench": "Run a benchmark suite.",
    "report": "Write report.html (timelines, 3D viewer, run details) for an output folder.",
    "batch": "Run many videos over all cores or a Ray cluster (resumable).",
}


def build_parser() -> argparse.ArgumentParser:
    from vidpose.version import __version__

    parser = argparse.ArgumentParser(prog="vidpose", description="Human pose estimation in video.")
    parser.add_argument("--version", action="version", version=f"vidpose {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_ in COMMANDS.items():
        mod = importlib.import_module(f"vidpose.cli.{name}_cmd")
        p = sub.add_parser(name, help=help_, description=help_)
        mod.add_arguments(p)
        p.set_defaults(_main=mod.main)
    return parser


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """While inside: SIGINT and SIGTERM raise :class:`Interrupted` in the main thread.

    The first signal raises; while the command unwinds, a second one is
    ignored (so clean-up code is not cut short) and a third one ends the
    process with the signal's default action. A signal that was ignored on
    entry (``nohup``, a background job) stays ignored. Outside the main thread
    (where Python cannot set handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen = [0]

    def handle(signum, frame):
        seen[0] += 1
        if seen[0] == 1:
            raise Interrupted(signum)
        if seen[0] == 2:
            print("vidpose: still cleaning up; send the signal again to stop at once", file=sys.stderr)
            return
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    previous = {}
    for s in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(s) is not signal.SIG_IGN:
            previous[s] = signal.signal(s, handle)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """One line per warning: vidpose's own read as messages, others say where they come from."""
    text = str(message).strip()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.abspath(filename).startswith(here + os.sep):
        text = f"{category.__name__} from {filename}:{lineno}: {text}"
    try:
        print(f"vidpose: warning: {text}", file=file or sys.stderr)
    except OSError:
        pass


def _os_error_line(e: OSError, args: argparse.Namespace) -> str:
    why = e.strerror or str(e) or type(e).__name__
    if e.filename is not None and getattr(e, "filename2", None) is not None:
        return f"cannot move {e.filename} to {e.filename2}: {why}"
    if e.filename is not None:
        return f"{e.filename}: {why}"
    out = getattr(args, "out", None)
    return f"{why} (while writing under {out})" if out else why


def main(argv: list[str] | None = None) -> int:
    args = None
    # OpenCV's own log lines ("[ WARN:0@...] ... can't open camera by index") would come before
    # vidpose's one-line error about the same fault; the user may still ask for them.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    try:
        with signals_raise():
            parser = build_parser()
            args = parser.parse_args(argv)
            if not getattr(args, "_main", None):
                parser.print_help(sys.stderr)
                return 2
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                return int(args._main(args) or 0)
    except VidposeError as e:
        print(f"vidpose: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader of our stdout went away (``vidpose models list | head``): not an error.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:
        print(f"vidpose: error: {_os_error_line(e, args)}", file=sys.stderr)
        return 1
    except Interrupted as e:
        print(f"vidpose: interrupted ({signal.Signals(e.signum).name})", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("vidpose: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if os.environ.get("VIDPOSE_DEBUG"):
            raise
        print(f"vidpose: error: {type(e).__name__}: {e} (an internal error; VIDPOSE_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
