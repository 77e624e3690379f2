"""Input checks that run before the database is asked (SPEC section 6).

Each check raises :class:`chatdb.errors.InvalidInput` with a message a user can act on and
``field`` naming the offending input, so nothing is written and no driver error escapes.
``bool`` is never accepted where an integer is expected (``True`` is not position 1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import Enum, StrEnum
from typing import TypeVar
from uuid import UUID

from chatdb.errors import InvalidInput

E = TypeVar("E", bound=Enum)

MAX_LABELS = 50
MAX_LABEL_KEY_LENGTH = 64
MAX_LABEL_VALUE_LENGTH = 256
LABEL_KEY_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._/-]*")

MIN_COMPACTION_THRESHOLD = 0
MAX_COMPACTION_THRESHOLD = 100

MAX_INT4 = 2**31 - 1
MAX_INT8 = 2**63 - 1


class BusyBehavior(StrEnum):
    """What ``send_message`` does when the chat is busy."""

    QUEUE = "queue"
    INTERRUPT = "interrupt"


class ChatProviderName(StrEnum):
    """``chat_providers.provider`` (a CHECK list, not a PostgreSQL enum)."""

    ANTHROPIC = "anthropic"
    AZURE = "azure"
    BEDROCK = "bedrock"
    GOOGLE = "google"
    OPENAI = "openai"
    OPENAI_COMPAT = "openai-compat"
    OPENROUTER = "openrouter"
    VERCEL = "vercel"


class MCPTransport(StrEnum):
    """``mcp_server_configs.transport`` (CHECK list)."""

    STREAMABLE_HTTP = "streamable_http"
    SSE = "sse"


class MCPAuthType(StrEnum):
    """``mcp_server_configs.auth_type`` (CHECK list)."""

    NONE = "none"
    OAUTH2 = "oauth2"
    API_KEY = "api_key"
    CUSTOM_HEADERS = "custom_headers"


class MCPAvailability(StrEnum):
    """``mcp_server_configs.availability`` (CHECK list)."""

    FORCE_ON = "force_on"
    DEFAULT_ON = "default_on"
    DEFAULT_OFF = "default_off"


class UsageLimitPeriod(StrEnum):
    """``chat_usage_limit_config.period`` (CHECK list)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def parse_enum(enum_cls: type[E], value: object, field: str) -> E:
    """``value`` as a member of ``enum_cls`` (a member or its exact value); else InvalidInput."""
    if isinstance(value, enum_cls):
        return value
    for member in enum_cls:
        if _same_value(value, member.value):
            return member
    allowed = ", ".join(repr(m.value) for m in enum_cls)
    raise InvalidInput(f"invalid {field} {value!r}: must be one of {allowed}", field=field)


def _same_value(a: object, b: object) -> bool:
    """Equal and of the same kind: "1" is not 1, and True is not 1."""
    if isinstance(a, str) and isinstance(b, str):
        return str.__eq__(a, b)
    return type(a) is type(b) and a == b


def parse_busy_behavior(value: object) -> BusyBehavior:
    """``queue`` or ``interrupt``."""
    return parse_enum(BusyBehavior, value, "busy_behavior")


def validate_labels(labels: object, field: str = "labels") -> dict[str, str]:
    """A valid label map, copied (string keys and values only; see SPEC 6 for the limits)."""
    if not isinstance(labels, Mapping):
        raise InvalidInput(
            f"{field} must be an object of string keys to string values, "
            f"got {type(labels).__name__}",
            field=field,
        )
    if len(labels) > MAX_LABELS:
        raise InvalidInput(f"too many labels: {len(labels)} (at most {MAX_LABELS})", field=field)
    out: dict[str, str] = {}
    for key, value in labels.items():
        if not isinstance(key, str):
            raise InvalidInput(f"label key {key!r} must be a string", field=field)
        if not 1 <= len(key) <= MAX_LABEL_KEY_LENGTH:
            raise InvalidInput(
                f"label key {key!r} must be 1 to {MAX_LABEL_KEY_LENGTH} characters long",
                field=field,
            )
        if LABEL_KEY_PATTERN.fullmatch(key) is None:
            raise InvalidInput(
                f"label key {key!r} must start with a letter or digit and contain only "
                "letters, digits, '.', '_', '/' and '-'",
                field=field,
            )
        if not isinstance(value, str):
            raise InvalidInput(
                f"label {key!r} must have a string value, got {value!r}", field=field
            )
        if not 1 <= len(value) <= MAX_LABEL_VALUE_LENGTH:
            raise InvalidInput(
                f"label {key!r} value must be 1 to {MAX_LABEL_VALUE_LENGTH} characters long",
                field=field,
            )
        out[key] = value
    return out


def validate_compaction_threshold(value: object, field: str = "compaction_threshold") -> int:
    """A context-compaction threshold, in percent of the context window (0..100)."""
    return _int_in_range(value, field, MIN_COMPACTION_THRESHOLD, MAX_COMPACTION_THRESHOLD)


def validate_pin_position(value: object, field: str = "pin_order") -> int:
    """A 1-based pin position (0 means unpinned, which is not a position)."""
    return _int_in_range(value, field, 1, MAX_INT4)


def validate_limit(
    value: object, field: str = "limit", *, maximum: int = 1000, allow_zero: bool = True
) -> int:
    """A page size; 0 is accepted by default (queries read it as "the default page")."""
    return _int_in_range(value, field, 0 if allow_zero else 1, maximum)


def validate_offset(value: object, field: str = "offset") -> int:
    """A non-negative row offset."""
    return _int_in_range(value, field, 0, MAX_INT8)


def validate_spend_limit_micros(
    value: object, field: str = "chat_spend_limit_micros"
) -> int | None:
    """A per-user or per-group spend limit: ``None`` (no override) or a positive amount."""
    if value is None:
        return None
    return _int_in_range(value, field, 1, MAX_INT8)


def validate_uuid_list(values: object, field: str) -> list[UUID]:
    """A list of UUIDs, each once, in the given order."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise InvalidInput(f"{field} must be a list of UUIDs", field=field)
    if not all(isinstance(v, UUID) for v in values):
        raise InvalidInput(f"{field} must be a list of UUIDs", field=field)
    return list(dict.fromkeys(values))


def validate_pool_sizes(min_size: object, max_size: object) -> tuple[int, int]:
    """Connection pool bounds: 0 <= min_size <= max_size, max_size >= 1."""
    low = _int_in_range(min_size, "min_size", 0, MAX_INT4)
    high = _int_in_range(max_size, "max_size", 1, MAX_INT4)
    if low > high:
        raise InvalidInput(f"min_size ({low}) must not exceed max_size ({high})", field="min_size")
    return low, high


def parse_uuid(value: object, field: str) -> UUID:
    """A UUID from a UUID or its text form."""
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            pass
    raise InvalidInput(f"{field} must be a UUID, got {value!r}", field=field)


def _int_in_range(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be an integer, got {value!r}", field=field)
    if not low <= value <= high:
        raise InvalidInput(f"{field} must be between {low} and {high}, got {value}", field=field)
    return int(value)
