"""Message content parts and content_version dispatch (SPEC 7)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from chatdb.content import (
    CURRENT_VERSION,
    ContextFilePart,
    FilePart,
    Part,
    ReasoningPart,
    SkillPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    dump_content,
    has_context_file,
    parse_content,
    parse_parts,
    pending_dynamic_tool_call_ids,
    strip_internal,
    text_of,
    tool_calls,
    tool_results,
)
from chatdb.errors import InvalidInput

FILE_ID = uuid.UUID("0b8e6f38-7d1c-4d39-9a4e-2f1b7c1e5a10")

EVERY_PART: list[Part] = [
    TextPart(text="hello"),
    ReasoningPart(text="thinking"),
    ToolCallPart(tool_call_id="c1", tool_name="search", args={"q": "x", "n": None}),
    ToolCallPart(tool_call_id="c2", tool_name="web", provider_executed=True),
    ToolResultPart(tool_call_id="c1", tool_name="search", result=[1, "two"], is_error=True),
    FilePart(file_id=FILE_ID, media_type="image/png"),
    ContextFilePart(path="/home/u/AGENTS.md", truncated=True, content="Be nice.", os="linux"),
    SkillPart(name="deploy", description="Deploys things", directory="/skills/deploy"),
]


# --- version 1 ----------------------------------------------------------------------------


def test_current_version_is_1() -> None:
    assert CURRENT_VERSION == 1


def test_every_part_type_round_trips_through_jsonb() -> None:
    stored = json.loads(json.dumps(dump_content(EVERY_PART)))  # what jsonb gives back
    assert parse_content(CURRENT_VERSION, stored, "assistant") == EVERY_PART


def test_dumped_parts_use_snake_case_and_the_type_tag() -> None:
    dumped = dump_content(EVERY_PART)
    assert [d["type"] for d in dumped] == [
        "text",
        "reasoning",
        "tool-call",
        "tool-call",
        "tool-result",
        "file",
        "context-file",
        "skill",
    ]
    assert dumped[2] == {
        "type": "tool-call",
        "tool_call_id": "c1",
        "tool_name": "search",
        "args": {"q": "x", "n": None},
        "provider_executed": False,
    }
    assert dumped[5] == {"type": "file", "file_id": str(FILE_ID), "media_type": "image/png"}
    assert dumped[6]["truncated"] is True


def test_unset_optional_fields_are_not_stored() -> None:
    (dumped,) = dump_content([ContextFilePart(path="a.md")])
    assert dumped == {"type": "context-file", "path": "a.md", "truncated": False}


def test_version_1_parses_regardless_of_role() -> None:
    raw = [{"type": "text", "text": "hi"}]
    for role in ("system", "user", "assistant", "tool"):
        assert parse_content(1, raw, role) == [TextPart(text="hi")]


def test_null_content_has_no_parts() -> None:
    assert parse_content(1, None, "user") == []
    assert parse_content(0, None, "assistant") == []


def test_parts_are_frozen() -> None:
    part = TextPart(text="a")
    with pytest.raises(ValidationError):
        part.text = "b"


@pytest.mark.parametrize(
    "raw",
    [
        "just a string",
        {"type": "text", "text": "not in a list"},
        [{"type": "nope"}],
        [{"text": "no type"}],
        [{"type": "text"}],
        [{"type": "text", "text": 5}],
        [{"type": "text", "text": "x", "extra": 1}],
        [{"type": "file", "file_id": "not-a-uuid", "media_type": "image/png"}],
        [{"type": "file", "media_type": "image/png"}],
        [{"type": "tool-call", "tool_call_id": "", "tool_name": "x"}],
        [{"type": "tool-result", "tool_call_id": "c", "tool_name": "x", "is_error": "yes"}],
        [{"type": "context-file", "path": "a", "truncated": 1}],
        [{"type": "skill", "description": "no name"}],
        ["bare string in v1"],
    ],
)
def test_malformed_v1_content_is_invalid_input(raw: object) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_content(1, raw, "user")
    assert err.value.field == "content"
    assert not isinstance(err.value.__cause__, ValidationError)


def test_invalid_content_message_points_at_the_bad_part() -> None:
    with pytest.raises(InvalidInput, match=r"1\.text\.text"):
        parse_content(1, [{"type": "text", "text": "ok"}, {"type": "text"}], "user")


@pytest.mark.parametrize("version", [2, -1, 99])
def test_unknown_content_version_is_invalid_input(version: int) -> None:
    with pytest.raises(InvalidInput, match=f"unknown content_version {version}") as err:
        parse_content(version, [{"type": "text", "text": "x"}], "user")
    assert err.value.field == "content_version"


def test_unknown_content_version_is_refused_even_for_null_content() -> None:
    with pytest.raises(InvalidInput):
        parse_content(2, None, "user")


def test_content_version_must_be_an_integer() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_content(True, [], "user")
    assert err.value.field == "content_version"


def test_unknown_role_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="role") as err:
        parse_content(0, "hi", "robot")
    assert err.value.field == "role"


def test_parse_parts_refuses_null() -> None:
    assert parse_parts([{"type": "text", "text": "x"}]) == [TextPart(text="x")]
    with pytest.raises(InvalidInput):
        parse_parts(None)


# --- version 0 (legacy) -------------------------------------------------------------------


def test_legacy_user_content_string_becomes_one_text_part() -> None:
    assert parse_content(0, "fix the bug", "user") == [TextPart(text="fix the bug")]


def test_legacy_system_content_string_becomes_one_text_part() -> None:
    assert parse_content(0, "You are helpful.", "system") == [TextPart(text="You are helpful.")]


def test_legacy_assistant_list_becomes_parts() -> None:
    raw = [
        {"type": "reasoning", "text": "hmm"},
        {"type": "text", "text": "Done."},
        {"type": "tool-call", "tool_call_id": "c1", "tool_name": "ls", "args": {"dir": "/"}},
    ]
    assert parse_content(0, raw, "assistant") == [
        ReasoningPart(text="hmm"),
        TextPart(text="Done."),
        ToolCallPart(tool_call_id="c1", tool_name="ls", args={"dir": "/"}),
    ]


def test_legacy_enveloped_blocks_are_unwrapped() -> None:
    raw = [
        {"type": "text", "data": {"text": "hi"}},
        {
            "type": "tool-call",
            "data": {"tool_call_id": "c1", "tool_name": "ls", "input": '{"dir": "/"}'},
        },
    ]
    assert parse_content(0, raw, "assistant") == [
        TextPart(text="hi"),
        ToolCallPart(tool_call_id="c1", tool_name="ls", args={"dir": "/"}),
    ]


def test_legacy_tool_call_input_that_is_not_json_is_kept_as_text() -> None:
    raw = [{"type": "tool-call", "tool_call_id": "c", "tool_name": "sh", "input": "ls -la"}]
    (call,) = parse_content(0, raw, "assistant")
    assert isinstance(call, ToolCallPart)
    assert call.args == "ls -la"


def test_legacy_tool_results_without_type_become_tool_result_parts() -> None:
    raw = [
        {"tool_call_id": "c1", "tool_name": "ls", "result": {"files": []}},
        {"tool_call_id": "c2", "tool_name": "sh", "output": "boom", "is_error": True},
    ]
    assert parse_content(0, raw, "tool") == [
        ToolResultPart(tool_call_id="c1", tool_name="ls", result={"files": []}),
        ToolResultPart(tool_call_id="c2", tool_name="sh", result="boom", is_error=True),
    ]


def test_legacy_keys_without_a_field_are_dropped_not_refused() -> None:
    raw = [{"type": "text", "text": "hi", "provider_metadata": {"anthropic": {}}}]
    assert parse_content(0, raw, "assistant") == [TextPart(text="hi")]


def test_legacy_bare_strings_in_a_list_are_text() -> None:
    assert parse_content(0, ["a", "b"], "assistant") == [TextPart(text="a"), TextPart(text="b")]


def test_legacy_user_content_may_also_be_a_list() -> None:
    raw = [
        {"type": "text", "text": "look"},
        {"type": "file", "file_id": str(FILE_ID), "media_type": "image/png"},
    ]
    assert parse_content(0, raw, "user") == [
        TextPart(text="look"),
        FilePart(file_id=FILE_ID, media_type="image/png"),
    ]


@pytest.mark.parametrize(
    ("raw", "role"),
    [
        ("a string", "assistant"),
        ("a string", "tool"),
        (42, "user"),
        ({"text": "hi"}, "assistant"),
        ([{"type": "tool-call", "tool_name": "no id"}], "assistant"),
        ([{"tool_name": "no id"}], "tool"),
        ([17], "assistant"),
    ],
)
def test_malformed_legacy_content_is_invalid_input(raw: object, role: str) -> None:
    with pytest.raises(InvalidInput):
        parse_content(0, raw, role)


def test_legacy_content_is_rewritten_as_version_1() -> None:
    parts = parse_content(0, "hello", "user")
    assert dump_content(parts) == [{"type": "text", "text": "hello"}]
    assert parse_content(1, dump_content(parts), "user") == parts


# --- helpers ------------------------------------------------------------------------------


def test_text_of_concatenates_only_text_parts() -> None:
    parts: list[Part] = [
        TextPart(text="Hello, "),
        ReasoningPart(text="(secret thoughts)"),
        FilePart(file_id=FILE_ID, media_type="image/png"),
        TextPart(text="world"),
    ]
    assert text_of(parts) == "Hello, world"
    assert text_of(parts, sep="|") == "Hello, |world"
    assert text_of([]) == ""


def test_has_context_file() -> None:
    assert has_context_file(EVERY_PART)
    assert not has_context_file([TextPart(text="x"), SkillPart(name="s")])


def test_tool_calls_and_results_are_picked_in_order() -> None:
    assert [c.tool_call_id for c in tool_calls(EVERY_PART)] == ["c1", "c2"]
    assert [r.tool_call_id for r in tool_results(EVERY_PART)] == ["c1"]


def test_pending_dynamic_tool_calls_are_the_unanswered_client_tool_calls() -> None:
    parts: list[Part] = [
        TextPart(text="let me check"),
        ToolCallPart(tool_call_id="b1", tool_name="read_file"),  # built-in
        ToolCallPart(tool_call_id="d1", tool_name="ask_slack", args={"q": "?"}),
        ToolCallPart(tool_call_id="d2", tool_name="create_ticket"),
        ToolCallPart(tool_call_id="d3", tool_name="ask_slack", provider_executed=True),
        ToolCallPart(tool_call_id="d4", tool_name="create_ticket"),
        ToolResultPart(tool_call_id="d4", tool_name="create_ticket", result="ok"),
    ]
    dynamic = ["ask_slack", "create_ticket"]
    assert pending_dynamic_tool_call_ids(parts, dynamic) == ["d1", "d2"]
    assert pending_dynamic_tool_call_ids(parts, dynamic, answered_ids=["d1"]) == ["d2"]
    assert pending_dynamic_tool_call_ids(parts, []) == []


def test_strip_internal_removes_context_file_content_and_skill_directory() -> None:
    stripped = strip_internal(EVERY_PART)
    context = next(p for p in stripped if isinstance(p, ContextFilePart))
    skill = next(p for p in stripped if isinstance(p, SkillPart))
    assert context == ContextFilePart(path="/home/u/AGENTS.md", truncated=True)
    assert skill == SkillPart(name="deploy", description="Deploys things")
    dumped: list[dict[str, Any]] = dump_content(stripped)
    assert "Be nice." not in json.dumps(dumped)
    assert "/skills/deploy" not in json.dumps(dumped)


def test_strip_internal_keeps_everything_else_and_does_not_mutate() -> None:
    stripped = strip_internal(EVERY_PART)
    kept = [p for p in stripped if not isinstance(p, ContextFilePart | SkillPart)]
    assert kept == [p for p in EVERY_PART if not isinstance(p, ContextFilePart | SkillPart)]
    original = next(p for p in EVERY_PART if isinstance(p, ContextFilePart))
    assert original.content == "Be nice."
