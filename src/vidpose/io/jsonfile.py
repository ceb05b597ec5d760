"""Reading JSON files with errors that name the file and the fault.

Every JSON input of vidpose (dataset annotations, ``poses.json``, COCO files,
synth annotations, mocap clips) is read through :func:`read_json` or, for text
already in memory, :func:`parse_json`. Anything wrong raises
:class:`~vidpose.errors.InputError` as ``<file>: <fault>``: the file cannot be
read, is not UTF-8, is not JSON (with line and column: a truncated file ends
mid-value), or nests too deeply to parse. Checking the parsed content is the
caller's job.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from vidpose.errors import InputError


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
        raise InputError(f"{source}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
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


__all__ = ["parse_json", "read_json"]
