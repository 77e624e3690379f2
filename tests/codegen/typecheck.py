"""Runtime check that a generated row holds what its annotations say (NULL only where `| None`)."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any


def matches(value: Any, hint: Any) -> bool:
    """Does ``value`` have the type ``hint`` (as mypy would read it)?"""
    if hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, h) for h in typing.get_args(hint))
    if origin is list:
        (elem,) = typing.get_args(hint)
        return isinstance(value, list) and all(matches(v, elem) for v in value)
    if origin is dict:
        k, v = typing.get_args(hint)
        return isinstance(value, dict) and all(
            matches(a, k) and matches(b, v) for a, b in value.items()
        )
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return isinstance(value, tuple) and all(matches(v, args[0]) for v in value)
        return (
            isinstance(value, tuple)
            and len(value) == len(args)
            and all(matches(v, a) for v, a in zip(value, args, strict=True))
        )
    if isinstance(origin, type):  # another generic (Range[int]...): its class
        return isinstance(value, origin)
    if isinstance(hint, type):
        if hint is float:
            return isinstance(value, float | int) and not isinstance(value, bool)
        if hint is int:
            return isinstance(value, int) and not isinstance(value, bool)
        if not isinstance(value, hint):
            return False
        if dataclasses.is_dataclass(hint):
            assert_typed(value)
        return True
    raise AssertionError(f"unsupported annotation {hint!r}")


def assert_typed(row: Any) -> None:
    """Every field of the dataclass ``row`` matches its annotation."""
    hints = typing.get_type_hints(type(row))
    for f in dataclasses.fields(row):
        value = getattr(row, f.name)
        assert matches(value, hints[f.name]), (
            f"{type(row).__name__}.{f.name}: {value!r} is not {hints[f.name]}"
        )


def assert_all_typed(rows: Any) -> None:
    for row in rows:
        assert_typed(row)


def field_types(cls: type) -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(cls)}
