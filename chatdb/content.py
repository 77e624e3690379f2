"""Message content: the typed parts stored in ``chat_messages.content``.

``content_version`` says how to read the jsonb column:

* **1** (current, every new insert): a JSON list of parts, each an object discriminated by
  ``type`` — ``text``, ``reasoning``, ``tool-call``, ``tool-result``, ``file``,
  ``context-file``, ``skill``. Field names are snake_case.
* **0** (legacy rows): the shape depended on the role. ``user``/``system`` content was a
  plain JSON string; ``assistant``/``tool`` content was a list of blocks. Legacy blocks are
  accepted as v1 parts, as ``{"type": ..., "data": {...}}`` envelopes, as bare strings (text),
  and — for the ``tool`` role — as untyped ``{"tool_call_id", "tool_name", "result",
  "is_error"}`` objects. A tool-call's ``input`` (the old name, possibly a JSON-encoded
  string) becomes ``args``; a tool-result's ``output`` becomes ``result``. Keys a part has
  no field for are dropped (old rows cannot be fixed); missing required fields still fail.

Parsing dispatches on the version and always returns v1 parts, so nothing above this module
sees legacy shapes. Malformed content and unknown versions raise
:class:`chatdb.errors.InvalidInput`; pydantic's ``ValidationError`` never leaks out. SQL NULL
content (``None``) parses to no parts under every version.

The jsonb value handed to :func:`parse_content` is the *decoded* JSON (what psycopg returns
for a jsonb column), not JSON text: for legacy user content a Python ``str`` is the message.

Version 1 is strict (unknown fields are rejected): a change of shape is a new version.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    TypeAdapter,
    ValidationError,
)

from chatdb.errors import InvalidInput

CURRENT_VERSION = 1
"""The version every new message is written with."""

LEGACY_VERSION = 0


class Role(StrEnum):
    """``chat_message_role``; parsing legacy content depends on it."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class _Part(BaseModel):
    """Common configuration: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    INTERNAL_FIELDS: ClassVar[frozenset[str]] = frozenset()
    """Fields that must never leave the service (see :func:`strip_internal`)."""


class TextPart(_Part):
    type: Literal["text"] = "text"
    text: str


class ReasoningPart(_Part):
    """The model's visible reasoning (kept so the transcript can be replayed to it)."""

    type: Literal["reasoning"] = "reasoning"
    text: str


class ToolCallPart(_Part):
    """A tool invocation by the model. ``provider_executed``: the provider ran it itself."""

    type: Literal["tool-call"] = "tool-call"
    tool_call_id: str = Field(min_length=1)
    tool_name: str = Field(min_length=1)
    args: JsonValue = None
    provider_executed: StrictBool = False


class ToolResultPart(_Part):
    """The outcome of one tool call, matched to it by ``tool_call_id``."""

    type: Literal["tool-result"] = "tool-result"
    tool_call_id: str = Field(min_length=1)
    tool_name: str = Field(min_length=1)
    result: JsonValue = None
    is_error: StrictBool = False
    provider_executed: StrictBool = False


class FilePart(_Part):
    """A reference to a row of ``chat_files`` (the bytes live there, not in the message)."""

    type: Literal["file"] = "file"
    file_id: UUID
    media_type: str = Field(min_length=1)


class ContextFilePart(_Part):
    """A workspace instruction file (AGENTS.md) injected into the conversation.

    ``content``, ``os`` and ``directory`` are internal: the prompt builder needs them, API
    responses and cached copies (``chats.last_injected_context``) must not carry them.
    """

    type: Literal["context-file"] = "context-file"
    path: str
    truncated: StrictBool = False
    content: str | None = None
    os: str | None = None
    directory: str | None = None

    INTERNAL_FIELDS: ClassVar[frozenset[str]] = frozenset({"content", "os", "directory"})


class SkillPart(_Part):
    """A skill discovered in the workspace; ``directory`` is internal.

    ``meta_file`` is the name of the skill's metadata file when the workspace uses a custom
    one (seed: "custom meta file names survive across chat turns"): it is kept, also in
    cached copies, so the skill can be read again on a later turn. Adding this optional field
    kept every stored version-1 value valid, so it needed no new content version.
    """

    type: Literal["skill"] = "skill"
    name: str = Field(min_length=1)
    description: str = ""
    meta_file: str | None = None
    directory: str | None = None

    INTERNAL_FIELDS: ClassVar[frozenset[str]] = frozenset({"directory"})


Part = Annotated[
    TextPart
    | ReasoningPart
    | ToolCallPart
    | ToolResultPart
    | FilePart
    | ContextFilePart
    | SkillPart,
    Field(discriminator="type"),
]
"""One message part; pydantic picks the class from ``type``."""

_PARTS = TypeAdapter(list[Part])

_PART_CLASSES: dict[str, type[_Part]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        TextPart,
        ReasoningPart,
        ToolCallPart,
        ToolResultPart,
        FilePart,
        ContextFilePart,
        SkillPart,
    )
}

_MAX_REPORTED_ERRORS = 3


# --- parsing -----------------------------------------------------------------------------


def parse_content(version: int, raw: object, role: str) -> list[Part]:
    """Parse a stored (or submitted) content value into v1 parts, whatever its version."""
    role_ = _parse_role(role)
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInput(
            f"content_version must be an integer, got {version!r}", field="content_version"
        )
    if version not in (LEGACY_VERSION, CURRENT_VERSION):
        raise InvalidInput(
            f"unknown content_version {version} (known: {LEGACY_VERSION}, {CURRENT_VERSION})",
            field="content_version",
        )
    if raw is None:
        return []
    if version == LEGACY_VERSION:
        return _validate(_legacy_items(raw, role_))
    return _validate(raw)


def parse_parts(raw: object) -> list[Part]:
    """Parse v1 content (e.g. submitted by a client); ``None`` is not accepted here."""
    if raw is None:
        raise InvalidInput("content must be a list of parts, got null", field="content")
    return _validate(raw)


def dump_content(parts: Iterable[Part]) -> list[dict[str, Any]]:
    """The jsonb value to store, with ``content_version = CURRENT_VERSION``.

    Unset optional fields (``None``) are left out; parsing restores them, so
    ``parse_content(1, dump_content(p), role) == p``.
    """
    return [p.model_dump(mode="json", exclude_none=True) for p in parts]


def _parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput(
            f"unknown message role {role!r} (one of {allowed})", field="role"
        ) from None


def _validate(raw: object) -> list[Part]:
    if not isinstance(raw, list):
        raise InvalidInput(
            f"content must be a list of parts, got {type(raw).__name__}", field="content"
        )
    try:
        return _PARTS.validate_python(raw)
    except ValidationError as exc:
        raise InvalidInput(_describe(exc), field="content") from None


def _describe(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    shown = "; ".join(
        f"{'.'.join(str(x) for x in e['loc']) or '<root>'}: {e['msg']}"
        for e in errors[:_MAX_REPORTED_ERRORS]
    )
    more = len(errors) - _MAX_REPORTED_ERRORS
    return "invalid message content: " + shown + (f" (and {more} more)" if more > 0 else "")


# --- legacy (version 0) ------------------------------------------------------------------


def _legacy_items(raw: object, role: Role) -> list[object]:
    """Rewrite a version-0 value into version-1 items (validated afterwards)."""
    if isinstance(raw, str):
        if role in (Role.USER, Role.SYSTEM):
            return [{"type": "text", "text": raw}]
        raise InvalidInput(
            f"legacy {role.value} content must be a list, got a string", field="content"
        )
    if not isinstance(raw, list):
        raise InvalidInput(
            f"legacy {role.value} content must be a "
            + ("string or a list" if role in (Role.USER, Role.SYSTEM) else "list")
            + f", got {type(raw).__name__}",
            field="content",
        )
    return [_legacy_item(item, role) for item in raw]


def _legacy_item(item: object, role: Role) -> object:
    if isinstance(item, str):
        return {"type": "text", "text": item}
    if not isinstance(item, dict):
        return item  # let validation report it
    out: dict[str, object] = dict(item)
    data = out.pop("data", None)
    if isinstance(data, dict):  # {"type": t, "data": {...}} envelope
        out = {**data, "type": out.get("type")}
    elif data is not None:
        out["data"] = data  # not an envelope: keep it, validation will refuse it
    if "type" not in out or out["type"] is None:
        out["type"] = "tool-result" if role is Role.TOOL else "text"
    if out["type"] == "tool-call" and "input" in out and "args" not in out:
        out["args"] = _maybe_json(out.pop("input"))
    if out["type"] == "tool-result" and "output" in out and "result" not in out:
        out["result"] = out.pop("output")
    model = _PART_CLASSES.get(out["type"]) if isinstance(out["type"], str) else None
    if model is not None:
        # Legacy rows cannot be fixed, so keys we have no field for are dropped, not refused.
        out = {k: v for k, v in out.items() if k in model.model_fields}
    return out


def _maybe_json(value: object) -> object:
    """Old tool-call inputs were JSON text; decode it when it is valid JSON."""
    if isinstance(value, str):
        try:
            decoded: object = json.loads(value)
        except ValueError:
            return value
        return decoded
    return value


# --- helpers for workflows ---------------------------------------------------------------


def text_of(parts: Iterable[Part], sep: str = "") -> str:
    """The text parts joined with ``sep`` (reasoning and other parts are not text)."""
    return sep.join(p.text for p in parts if isinstance(p, TextPart))


def has_context_file(parts: Iterable[Part]) -> bool:
    """Whether a message carries workspace instruction files."""
    return any(isinstance(p, ContextFilePart) for p in parts)


def tool_calls(parts: Iterable[Part]) -> list[ToolCallPart]:
    """The tool-call parts, in order."""
    return [p for p in parts if isinstance(p, ToolCallPart)]


def tool_results(parts: Iterable[Part]) -> list[ToolResultPart]:
    """The tool-result parts, in order."""
    return [p for p in parts if isinstance(p, ToolResultPart)]


def pending_dynamic_tool_call_ids(
    assistant_parts: Iterable[Part],
    dynamic_tool_names: Iterable[str],
    answered_ids: Iterable[str] = (),
) -> list[str]:
    """Ids of calls to client-executed (dynamic) tools that still wait for a result.

    A call is pending when its tool is one of ``dynamic_tool_names``, the provider did not
    run it, and its id is neither in ``answered_ids`` nor answered by a tool-result among
    ``assistant_parts``. ``submit_tool_results`` requires the submitted ids to equal this.
    """
    parts = list(assistant_parts)
    names = set(dynamic_tool_names)
    answered = set(answered_ids) | {r.tool_call_id for r in tool_results(parts)}
    pending: list[str] = []
    for call in tool_calls(parts):
        if call.tool_name not in names or call.provider_executed:
            continue
        if call.tool_call_id in answered or call.tool_call_id in pending:
            continue
        pending.append(call.tool_call_id)
    return pending


def strip_internal(parts: Sequence[Part]) -> list[Part]:
    """Copies of ``parts`` without internal fields, safe to return or cache."""
    out: list[Part] = []
    for p in parts:
        internal = {f: None for f in p.INTERNAL_FIELDS if getattr(p, f) is not None}
        out.append(p.model_copy(update=internal) if internal else p)
    return out
