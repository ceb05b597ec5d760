"""``vidpose batch``: ``vidpose run`` over many videos with Ray, locally or on a cluster.

Each video gets its own output folder ``OUT/<video stem>/`` (the stem plus a short
hash of the path when two inputs share a stem). A video is run into a hidden
folder ``OUT/.batch-<name>-<random>/`` (itself written by :func:`vidpose.pipeline.run`
through its staging folder) and renamed to ``OUT/<name>`` only when complete, so
an output folder is either whole or absent; hidden leftovers of a killed batch
are removed when the next one starts.

Resuming: a video whose folder holds a ``run.json`` that parses, names the same
source file and lists outputs that all exist is ``skipped`` (its numbers are
read back from that run.json). A failing video (unreadable, corrupt, a worker
that died) is ``failed`` with a one-line reason; the others go on. ``OUT/batch.csv``
(video, status, error, frames, persons, seconds) is rewritten atomically after
every video, so it is current even after a kill.

Ray is imported only here (the ``batch`` extra). Locally (no ``address``) it
starts a private Ray instance with one CPU slot per worker (default: every
core); with ``address`` it connects to a running cluster (``ray start --head``
on one machine, ``ray start --address HEAD:6379`` on the others, vidpose
installed on every node, the videos and OUT on storage every node sees).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

from vidpose.errors import InputError, Interrupted, VidposeError
from vidpose.io.video import VIDEO_EXTENSIONS

CSV_COLUMNS = ["video", "status", "error", "frames", "persons", "seconds"]
INSTALL_HINT = "vidpose batch needs Ray: pip install 'vidpose[batch]' (or pip install ray)"


def import_ray():
    """The ray module, or a :class:`VidposeError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise VidposeError(INSTALL_HINT) from None
    return ray


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files as given (absolute), folders as their video files (by extension, sorted); duplicates once."""
    if not inputs:
        raise InputError("vidpose batch: no input videos given")
    out: list[Path] = []
    for s in inputs:
        p = Path(s)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS)
            if not found:
                raise InputError(f"{p}: folder has no video files ({', '.join(VIDEO_EXTENSIONS)})")
            out += found
        elif p.is_file():
            out.append(p)
        elif p.exists():
            raise InputError(f"{p}: not a file or folder")
        else:
            raise InputError(f"{p}: no such file or folder")
    seen: dict[Path, None] = {}
    for p in out:
        seen.setdefault(p.resolve(), None)
    return list(seen)


def output_names(videos: list[Path]) -> list[str]:
    """One folder name per video: its stem, plus a hash of its path where stems collide."""
    stems = [v.stem for v in videos]
    return [s if stems.count(s) == 1 else f"{s}-{hashlib.sha1(str(v).encode()).hexdigest()[:8]}"
            for s, v in zip(stems, videos)]


def finished(folder: Path, video: Path) -> dict | None:
    """The run.json of a complete earlier run of ``video`` in ``folder``, else None."""
    import json

    try:
        run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(run, dict) or run.get("source") != str(video) or not isinstance(run.get("frames"), int):
        return None
    outputs = run.get("outputs")
    if not isinstance(outputs, list) or not all(isinstance(n, str) and (folder / n).is_file() for n in outputs):
        return None
    return run


def _row(video: Path, status: str, error: str = "", run: dict | None = None, seconds: float | None = None) -> dict:
    return {
        "video": str(video), "status": status, "error": error,
        "frames": run.get("frames", "") if run else "",
        "persons": len(run.get("track_ids") or []) if run else "",
        "seconds": "" if seconds is None else round(seconds, 3),
    }


def _one_line(e: BaseException) -> str:
    text = str(e) if isinstance(e, (VidposeError, OSError)) else f"{type(e).__name__}: {e}"
    return " ".join(text.split()) or type(e).__name__


def run_one(video: str, dest: str, options: dict) -> dict:
    """One video (runs in a Ray worker): ``vidpose run`` into a hidden folder, renamed into place."""
    from vidpose.pipeline import RunConfig, run

    video_p, dest_p = Path(video), Path(dest)
    tmp = dest_p.parent / f".batch-{dest_p.name}-{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    try:
        report = run(video_p, tmp, RunConfig(**options))
        if dest_p.exists():  # an incomplete earlier folder (not a finished run: those are skipped)
            shutil.rmtree(dest_p)
        os.replace(tmp, dest_p)
        return _row(video_p, "done", report.get("decode_error") or "", report, time.perf_counter() - t0)
    except Exception as e:
        shutil.rmtree(tmp, ignore_errors=True)
        return _row(video_p, "failed", _one_line(e), None, time.perf_counter() - t0)


def _signal_handlers() -> dict:
    import signal

    return {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}


def _flag_signals(handlers: dict, got: list) -> None:
    """While Ray waits: SIGINT/SIGTERM only record the signal (``got``); the loop raises
    :class:`Interrupted` from Python code. ``ray.init`` replaces the driver's SIGTERM handler
    (one that exits with status 15), and an exception raised by a handler inside ``ray.wait``
    comes out as a plain KeyboardInterrupt; so the loop checks the flag between waits and a
    SIGTERM unwinds through the clean-up (cancel, shut Ray down, remove leftovers) and exits
    143 like every vidpose command. A second signal goes to the previous handlers."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def on_signal(signum, frame):
        if not got:
            got.append(signum)
            return
        _restore_signal_handlers(handlers)
        h = handlers.get(signum)
        if callable(h):
            h(signum, frame)

    for s, h in handlers.items():
        if h is not signal.SIG_IGN:
            signal.signal(s, on_signal)


def _restore_signal_handlers(handlers: dict) -> None:
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for s, h in handlers.items():
        if h is not None:
            signal.signal(s, h)


def write_csv(path: Path, rows: list[dict]) -> None:
    from vidpose.io.atomic import atomic_write_text

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """``HOST:PORT`` (or ``ray://HOST:PORT``) must accept a TCP connection; ``auto`` and ``local`` are
    left to Ray."""
    import socket

    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        if address in ("auto", "local"):
            return
        raise InputError(f"--address {address}: expected HOST:PORT of a Ray head (ray start --head), or auto")
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as e:
        raise InputError(f"--address {address}: no Ray cluster answered ({e.strerror or e})") from None


def run_batch(inputs: list[str], out: str | os.PathLike, options: dict | None = None, address: str | None = None,
              workers: int | None = None, quiet: bool = False) -> list[dict]:
    """Run every video of ``inputs`` into ``out/<name>/``; return the batch.csv rows (input order).

    ``options``: :class:`vidpose.pipeline.RunConfig` fields (checked before anything
    starts); each video runs quietly. ``workers``: videos at once (default: every
    core locally, every CPU of the cluster with ``address``).
    """
    from vidpose.pipeline import RunConfig
    from vidpose.progress import Progress

    options = dict(options or {})
    options["quiet"] = True
    RunConfig(**options)  # a bad option fails here, before Ray starts
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    videos = expand_inputs(inputs)
    if address:
        _check_reachable(address)  # an unreachable head fails in seconds, not after Ray's long retries
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create output folder {out_dir}: {e.strerror or e}") from None
    for left in out_dir.glob(".batch-*"):  # hidden leftovers of a killed batch
        shutil.rmtree(left, ignore_errors=True)
    names = output_names(videos)
    rows: list[dict | None] = [None] * len(videos)
    todo = []
    for i, (v, n) in enumerate(zip(videos, names)):
        prev = finished(out_dir / n, v)
        if prev is not None:
            rows[i] = _row(v, "skipped", "", prev, prev.get("wall_seconds"))
        else:
            todo.append(i)
    csv_path = out_dir / "batch.csv"

    def say(msg: str) -> None:
        if not quiet:
            print(f"vidpose: {msg}", file=sys.stderr)

    def save() -> None:
        write_csv(csv_path, [r for r in rows if r is not None])

    if len(todo) < len(videos):
        say(f"{len(videos) - len(todo)} of {len(videos)} videos already done in {out_dir}; skipped")
    save()
    if not todo:
        return rows  # type: ignore[return-value]
    ray = import_ray()
    progress = Progress(len(videos), "videos", enabled=not quiet)
    progress.update(len(videos) - len(todo))
    t_start = time.perf_counter()
    started_here = not ray.is_initialized()
    handlers = _signal_handlers()
    if started_here:
        if address:
            try:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            except Exception as e:
                _restore_signal_handlers(handlers)
                if not any(rows):  # nothing ran: no batch.csv of this attempt is left behind
                    csv_path.unlink(missing_ok=True)
                raise VidposeError(f"--address {address}: cannot connect to a Ray cluster ({_one_line(e)})") from None
        else:
            ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                     logging_level="ERROR", object_store_memory=100 * 1024 * 1024)
    got: list[int] = []
    _flag_signals(handlers, got)
    pending: dict = {}
    try:
        say(f"Ray up in {time.perf_counter() - t_start:.1f} s; {len(todo)} videos to run")
        slots = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(num_cpus=1, max_retries=0)(run_one)
        queue = list(todo)
        done_count = len(videos) - len(todo)
        while queue or pending:
            while queue and len(pending) < slots:
                i = queue.pop(0)
                pending[remote.remote(str(videos[i]), str(out_dir / names[i]), options)] = i
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            if got:
                raise Interrupted(got[0])
            for ref in ready:
                i = pending.pop(ref)
                try:
                    rows[i] = ray.get(ref)
                except Exception as e:  # the worker died (killed, out of memory)
                    rows[i] = _row(videos[i], "failed", _one_line(e))
                done_count += 1
                r = rows[i]
                say(f"[{done_count}/{len(videos)}] {videos[i].name}: {r['status']}"
                    + (f" ({r['frames']} frames, {r['seconds']} s)" if r["status"] == "done" else f": {r['error']}"))
                save()
                progress.update()
    except KeyboardInterrupt as e:  # a signal handled inside ray.wait comes out as a plain one
        if got and not isinstance(e, Interrupted):
            raise Interrupted(got[0]) from None
        raise
    finally:
        progress.close()
        # No ray.cancel of the running tasks: Ray 2.60's force-cancel of a task that is just
        # completing aborts the driver ("Tried to complete task that was not pending").
        # Shutting down (local) or disconnecting (a cluster: the job's tasks end with its
        # driver) stops them.
        if started_here:
            ray.shutdown()
        _restore_signal_handlers(handlers)
        for left in out_dir.glob(".batch-*"):
            shutil.rmtree(left, ignore_errors=True)
    return rows  # type: ignore[return-value]


__all__ = ["run_batch", "run_one", "finished", "expand_inputs", "output_names", "CSV_COLUMNS"]
