"""Dataclass settings <-> plain dicts (TOML, JSON, ``--set KEY=VALUE`` text), with type checks.

Every config in vidpose (a method's model config, the training sections) is a
dataclass; this module turns a dict into one, checking each value against the
field's type and naming the source and key on any fault (:class:`InputError`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from vidpose.errors import InputError


def field_types(cls: type) -> dict[str, Any]:
    """{field name: resolved type} of a dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Check a TOML value against the field type ``tp`` (ints are accepted for floats)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a, where)
            except InputError:
                pass
        raise InputError(f"{where}: expected {type_name(tp)}, got {value!r}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise InputError(f"{where}: expected a list ({type_name(tp)}), got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise InputError(f"{where}: expected {len(args)} values, got {len(value)} ({value!r})")
        return tuple(coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if tp is bool:
        if not isinstance(value, bool):
            raise InputError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise InputError(f"{where}: expected a string, got {value!r}")
        return value
    raise InputError(f"{where}: unsupported field type {type_name(tp)}")  # pragma: no cover


def parse_text(text: str, tp: Any, where: str) -> Any:
    """Parse a ``--set`` value string with the field type ``tp``."""
    origin = typing.get_origin(tp)
    s = text.strip()
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if type(None) in args and s.lower() in ("none", "null", ""):
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return parse_text(text, a, where)
            except InputError:
                pass
        raise InputError(f"{where}: cannot parse {text!r} as {type_name(tp)}")
    if origin is tuple:
        args = typing.get_args(tp)
        parts = [p for p in s.strip("()[]").split(",")] if s.strip("()[]").strip() else []
        inner = [args[0]] * len(parts) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(inner) != len(parts):
            raise InputError(f"{where}: expected {len(inner)} comma-separated values, got {text!r}")
        return tuple(parse_text(p, a, f"{where}[{i}]") for i, (p, a) in enumerate(zip(parts, inner)))
    if tp is bool:
        low = s.lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise InputError(f"{where}: expected true or false, got {text!r}")
    if tp is int:
        try:
            return int(s)
        except ValueError:
            raise InputError(f"{where}: expected an integer, got {text!r}") from None
    if tp is float:
        try:
            return float(s)
        except ValueError:
            raise InputError(f"{where}: expected a number, got {text!r}") from None
    if tp is str:
        return text
    raise InputError(f"{where}: unsupported field type {type_name(tp)}")  # pragma: no cover


def from_dict(cls: type, data: Any, source: str) -> Any:
    """Build dataclass ``cls`` from ``data`` (a dict); unknown keys and wrong types raise
    InputError naming ``source`` and the key; the class's own validation errors are prefixed with ``source``."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a table of settings, got {type(data).__name__}")
    types_ = field_types(cls)
    unknown = sorted(set(data) - set(types_))
    if unknown:
        raise InputError(f"{source}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(types_)}")
    values = {k: coerce(v, types_[k], f"{source}: {k}") for k, v in data.items()}
    try:
        return cls(**values)
    except InputError as e:
        raise InputError(f"{source}: {e}") from None
    except (TypeError, ValueError) as e:
        raise InputError(f"{source}: {e}") from None


def to_dict(obj: Any) -> dict[str, Any]:
    """A dataclass's fields as a plain dict (tuples become lists, for JSON/TOML)."""
    return {f.name: (list(v) if isinstance(v := getattr(obj, f.name), tuple) else v) for f in dataclasses.fields(obj)}


def toml_value(v: Any) -> str:
    """One value as TOML text."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if v is None:
        raise InputError("config: None values cannot be written to TOML")
    raise InputError(f"config: cannot write {type(v).__name__} to TOML")
