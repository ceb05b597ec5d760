"""Atomic file writing: write to a temporary file beside the target, then rename.

A crash or an error mid-write leaves the previous file (or nothing), never a
partial one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from vidpose.errors import OutputError, VidposeError, output_error


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    ``suffix`` defaults to the target's own suffix, so tools that pick a format
    from the extension (video muxers) still work.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    suffix = path.suffix if suffix is None else suffix
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{suffix}", dir=folder)
    except OSError as e:  # no such folder, not a folder, not writable: name the target, not the temp name
        raise OutputError(f"{path}: cannot create ({e.strerror or e})") from e
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600 files; give the result the permissions a plain open() would
    # (after the body ran: some writers recreate the file they are given).
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if isinstance(e, OSError) and e.filename is None and not isinstance(e, VidposeError):
            # A failed write() (disk full, file too large) does not say which file.
            raise output_error(path, e) from e
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """``open()`` that only replaces ``path`` once the ``with`` block succeeds."""
    if not any(m in mode for m in "wx"):
        raise ValueError(f"atomic_open needs a write mode, got {mode!r}")
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
