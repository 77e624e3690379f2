"""Input checks the authorized querier runs on every argument before it does anything else.

Every method of the generated wrappers is checked against its own parameter annotations (the
types the code generator derived from the catalog: ``str``, ``int``, ``datetime``, ``JSON``,
``UUID``, enums, ``Sequence[...]``, ``... | None``) and, for parameters named after a column
with rules of its own, against those rules (:data:`NAMED_RULES`). A value that would make the
driver or the server fail with an untyped error (a lone surrogate, a naive datetime, a JSON
value that is not JSON or is nested beyond :data:`MAX_JSON_DEPTH`, ``None`` where a value is
required) is refused with :class:`~chatdb.errors.InvalidInput` naming the parameter, so
nothing is sent and nothing is written. The workflows call through the same wrappers, so
they get the same checks.

The checks are derived once per method, when the wrapper class is created
(:func:`install_checks`), not written per method: a new query is covered by regenerating.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from chatdb.content import parse_content
from chatdb.errors import InvalidInput
from chatdb.validation import MAX_INT8, parse_enum, validate_labels

MAX_JSON_DEPTH = 64
"""Deepest JSON nesting accepted (arrays and objects); deeper values are refused, not
recursed into (chat data never nests this deep; a hostile value could exhaust the stack)."""

Check = Callable[[str, object], None]


def check_text(name: str, value: object) -> None:
    """A str PostgreSQL can store: valid UTF-8 (no lone surrogates) and no NUL character."""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, got {type(value).__name__}", field=name)
    if "\x00" in value:
        raise InvalidInput(f"{name} must not contain a NUL character", field=name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{name} is not valid Unicode text (it holds a lone surrogate)", field=name
        ) from None


def check_json(name: str, value: object) -> None:
    """A JSON value: null, bool, finite number, text, arrays and string-keyed objects only,
    nested at most MAX_JSON_DEPTH deep (walked without recursion)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if item is None or isinstance(item, bool | int):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidInput(f"{name}: {item} is not a JSON number", field=name)
        elif isinstance(item, str):
            check_text(name, item)
        elif isinstance(item, Mapping | list | tuple):
            if depth >= MAX_JSON_DEPTH:
                raise InvalidInput(
                    f"{name} is nested deeper than {MAX_JSON_DEPTH} levels", field=name
                )
            if isinstance(item, Mapping):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise InvalidInput(f"{name}: object keys must be strings", field=name)
                    check_text(name, key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        else:
            raise InvalidInput(f"{name}: a {type(item).__name__} is not a JSON value", field=name)


def _instance(*types: type, what: str) -> Check:
    def check(name: str, value: object) -> None:
        if isinstance(value, bool) and bool not in types:
            raise InvalidInput(f"{name} must be {what}, got a bool", field=name)
        if not isinstance(value, types):
            raise InvalidInput(f"{name} must be {what}, got {type(value).__name__}", field=name)

    return check


def check_int(name: str, value: object) -> None:
    """An integer (not a bool) that fits a bigint."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer, got {type(value).__name__}", field=name)
    if not -MAX_INT8 - 1 <= value <= MAX_INT8:
        raise InvalidInput(f"{name} is out of range: {value}", field=name)


def check_datetime(name: str, value: object) -> None:
    """An aware datetime: a naive one would be read in the server's time zone."""
    if not isinstance(value, datetime):
        raise InvalidInput(f"{name} must be a datetime, got {type(value).__name__}", field=name)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{name} must carry a time zone (got a naive datetime)", field=name)


def _check_float(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidInput(f"{name} must be a number, got {type(value).__name__}", field=name)


def _check_str_map(name: str, value: object) -> None:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{name} must be an object, got {type(value).__name__}", field=name)
    for key, item in value.items():
        check_text(name, key)
        check_text(name, item)


def _sequence_of(element: Check, *, nullable_elements: bool) -> Check:
    def check(name: str, value: object) -> None:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise InvalidInput(f"{name} must be a list, got {type(value).__name__}", field=name)
        for item in value:
            if item is None and nullable_elements:
                continue
            if item is None:
                raise InvalidInput(f"{name} must not hold null elements", field=name)
            element(name, item)

    return check


def _enum(cls: type[Enum]) -> Check:
    def check(name: str, value: object) -> None:
        parse_enum(cls, value, name)

    return check


_BASES: dict[str, Check] = {
    "str": check_text,
    "JSON": check_json,
    "int": check_int,
    "bool": _instance(bool, what="a bool"),
    "float": _check_float,
    "Decimal": _check_float,
    "UUID": _instance(UUID, what="a UUID"),
    "datetime": check_datetime,
    "date": _instance(date, what="a date"),
    "timedelta": _instance(timedelta, what="a timedelta"),
    "bytes": _instance(bytes, bytearray, memoryview, what="bytes"),
    "dict[str, str]": _check_str_map,
    "list[UUID]": _sequence_of(_instance(UUID, what="a UUID"), nullable_elements=False),
}


def _labels(name: str, value: object) -> None:
    validate_labels(value, name)


def _content_version(name: str, value: object) -> None:
    # parse_content knows the versions; a null content is enough to ask it.
    parse_content(value, None, "user")  # type: ignore[arg-type]  # checked inside


NAMED_RULES: dict[str, Check] = {
    "labels": _labels,
    "label_filter": _labels,
    "content_version": _content_version,
}
"""Rules of columns beyond their type, for the parameters named after them (a parameter
takes its column's name unless the query renames it): chat labels (SPEC 6) and the message
content versions the service can read (SPEC 7)."""


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    nullable: bool
    check: Check | None


def _element_check(annotation: str, namespace: Mapping[str, Any]) -> Check | None:
    if annotation in _BASES:
        return _BASES[annotation]
    cls = namespace.get(annotation)
    if isinstance(cls, type) and issubclass(cls, Enum):
        return _enum(cls)
    return None  # a type these checks do not know: left to the driver and the server


def _param(name: str, annotation: str, namespace: Mapping[str, Any]) -> _Param:
    nullable = annotation.endswith(" | None")
    base = annotation.removesuffix(" | None")
    check: Check | None
    if base.startswith("Sequence[") and base.endswith("]"):
        inner = base[len("Sequence[") : -1]
        element = _element_check(inner.removesuffix(" | None"), namespace)
        check = _sequence_of(
            element or (lambda _n, _v: None), nullable_elements=inner.endswith(" | None")
        )
    else:
        check = _element_check(base, namespace)
    rule = NAMED_RULES.get(name)
    if rule is not None:
        typed, named = check, rule
        if base.startswith("Sequence["):
            named = _sequence_of(rule, nullable_elements=True)

        def both(n: str, v: object) -> None:
            if typed is not None:
                typed(n, v)
            named(n, v)

        check = both
    return _Param(name, nullable, check)


def params_of(fn: Callable[..., Any]) -> tuple[_Param, ...]:
    """The checks of a wrapper method, from its (string) annotations."""
    namespace = fn.__globals__
    out = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        annotation = p.annotation if isinstance(p.annotation, str) else ""
        out.append(_param(p.name, annotation, namespace))
    return tuple(out)


def check_args(method: str, params: tuple[_Param, ...], kwargs: Mapping[str, object]) -> None:
    """Refuse the first bad argument (InvalidInput naming it)."""
    for p in params:
        if p.name not in kwargs:
            continue  # a missing argument is Python's TypeError at the call itself
        value = kwargs[p.name]
        if value is None:
            if not p.nullable:
                raise InvalidInput(f"{method}: {p.name} is required (got None)", field=p.name)
            continue
        if p.check is not None:
            p.check(p.name, value)


def _checked(fn: Callable[..., Any]) -> Callable[..., Any]:
    params = params_of(fn)
    method = fn.__name__
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_checked(self: object, /, **kwargs: object) -> Any:
            check_args(method, params, kwargs)
            return await fn(self, **kwargs)

        return async_checked

    @functools.wraps(fn)
    def checked(self: object, /, **kwargs: object) -> Any:
        check_args(method, params, kwargs)
        return fn(self, **kwargs)

    return checked


def install_checks(cls: type, methods: frozenset[str]) -> None:
    """Wrap each query method ``cls`` itself defines with the checks of its parameters."""
    for name, fn in list(vars(cls).items()):
        if name in methods and inspect.isfunction(fn):
            setattr(cls, name, _checked(fn))
