"""Reading JSON files with errors that name the file and the fault.

Every JSON input of vidpose (dataset annotations, ``poses.json``, COCO files,
synth annotations, mocap clips) is read through :func:`read_json` or, for text
already in memory, :func:`parse_json`. Anything wrong raises
:class:`~vidpose.errors.InputError` as ``<file>: <fault>``: the file cannot be
read, is not UTF-8, is not JSON (with line and column: a truncated file ends
mid-value), or nests too deeply to parse. Checking the parsed content is the
caller's job; :func:`finite_number` is the one check of a single JSON number that
the parsers share, with :data:`MAX_ABS`, the largest magnitude a file may hold.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from vidpose.errors import InputError


# The largest magnitude accepted for a coordinate, area or score read from a file.
# Beyond it squared distances and areas (OKS, PCK normalisers, MPJPE) overflow or lose
# all precision; no image or skeleton is that large, so such a value is a corrupt file.
MAX_ABS = 1e12


def parse_json(text: str | bytes, source: str | os.PathLike) -> Any:
    """Parse JSON ``text`` (bytes are decoded as UTF-8); ``source`` names it in errors."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{source}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        msg = e.msg[:-3] if e.msg.endswith(" at") else e.msg  # "Unterminated string starting at" + " at line"
        raise InputError(f"{source}: not valid JSON ({msg} at line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise InputError(f"{source}: not valid JSON (nested too deeply)") from None


def read_json(path: str | os.PathLike) -> Any:
    """Read and parse the JSON file ``path``."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{p}: cannot read (a folder, not a file)") from None
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror or e})") from None
    return parse_json(data, p)


def short_repr(x: Any) -> str:
    """``repr(x)`` cut to 40 characters, for quoting a bad value in an error."""
    r = repr(x)
    return r if len(r) <= 40 else r[:37] + "..."


def finite_number(x: Any, where: str, *, lo: float | None = None) -> float:
    """A JSON number (not a boolean or string), finite and of sane magnitude; ``where`` names it in errors."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise InputError(f"{where}: expected a number, got {short_repr(x)}")
    if isinstance(x, float) and not math.isfinite(x):
        raise InputError(f"{where}: non-finite value (NaN or inf), expected a finite number")
    try:
        v = float(x)
    except OverflowError:  # an integer beyond float range
        v = math.inf
    if not math.isfinite(v) or abs(v) > MAX_ABS:
        raise InputError(f"{where}: expected a finite number of magnitude at most {MAX_ABS:g}, got {short_repr(x)}")
    if lo is not None and v < lo:
        raise InputError(f"{where}: must be at least {lo:g}, got {v:g}")
    return v


__all__ = ["MAX_ABS", "finite_number", "parse_json", "read_json", "short_repr"]
