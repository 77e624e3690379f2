"""Input validation that runs before the database is asked (SPEC 6)."""

from __future__ import annotations

import uuid
from enum import Enum, IntEnum, StrEnum

import pytest

from chatdb.errors import InvalidInput
from chatdb.validation import (
    BusyBehavior,
    MCPAvailability,
    UsageLimitPeriod,
    parse_busy_behavior,
    parse_enum,
    parse_uuid,
    validate_compaction_threshold,
    validate_labels,
    validate_limit,
    validate_offset,
    validate_pin_position,
    validate_spend_limit_micros,
)

# --- labels -------------------------------------------------------------------------------


def test_valid_labels_are_returned_as_a_plain_copy() -> None:
    given = {"env": "prod", "team.name/sub-x_1": "agents", "9lives": "x" * 256}
    result = validate_labels(given)
    assert result == given
    assert result is not given


def test_no_labels_is_valid() -> None:
    assert validate_labels({}) == {}


def test_fifty_labels_are_allowed_but_not_fifty_one() -> None:
    fifty = {f"k{i}": "v" for i in range(50)}
    assert len(validate_labels(fifty)) == 50
    with pytest.raises(InvalidInput, match="too many labels") as err:
        validate_labels({**fifty, "one-more": "v"})
    assert err.value.field == "labels"


@pytest.mark.parametrize(
    "key",
    ["", "-starts-with-dash", ".dot", "_underscore", "/slash", "has space", "ümlaut", "a:b", "a\n"],
)
def test_label_keys_must_match_the_pattern(key: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_labels({key: "v"})
    assert err.value.field == "labels"


def test_label_key_length_limit_is_64() -> None:
    assert validate_labels({"k" * 64: "v"})
    with pytest.raises(InvalidInput, match="64"):
        validate_labels({"k" * 65: "v"})


def test_label_values_must_be_1_to_256_characters() -> None:
    with pytest.raises(InvalidInput, match="256"):
        validate_labels({"k": ""})
    with pytest.raises(InvalidInput, match="256"):
        validate_labels({"k": "v" * 257})


@pytest.mark.parametrize("labels", [{"k": 1}, {"k": None}, {"k": True}, {1: "v"}, {"k": ["v"]}])
def test_labels_must_map_strings_to_strings(labels: dict[object, object]) -> None:
    with pytest.raises(InvalidInput):
        validate_labels(labels)


@pytest.mark.parametrize("labels", [None, [("k", "v")], "k=v"])
def test_labels_must_be_an_object(labels: object) -> None:
    with pytest.raises(InvalidInput, match="object"):
        validate_labels(labels)


def test_the_label_field_name_can_be_chosen() -> None:
    with pytest.raises(InvalidInput) as err:
        validate_labels({"": "v"}, field="label_filter")
    assert err.value.field == "label_filter"


# --- numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 50, 100])
def test_compaction_threshold_accepts_0_to_100(value: int) -> None:
    assert validate_compaction_threshold(value) == value


@pytest.mark.parametrize("value", [-1, 101, True, False, 50.0, "50", None])
def test_compaction_threshold_refuses_anything_else(value: object) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_compaction_threshold(value)
    assert err.value.field == "compaction_threshold"


def test_pin_position_starts_at_one() -> None:
    assert validate_pin_position(1) == 1
    assert validate_pin_position(7) == 7
    with pytest.raises(InvalidInput, match="between 1"):
        validate_pin_position(0)
    with pytest.raises(InvalidInput):
        validate_pin_position(-3)


def test_true_is_not_pin_position_one() -> None:
    with pytest.raises(InvalidInput, match="integer"):
        validate_pin_position(True)


def test_pin_position_must_fit_the_int_column() -> None:
    assert validate_pin_position(2**31 - 1) == 2**31 - 1
    with pytest.raises(InvalidInput):
        validate_pin_position(2**31)


def test_limit_and_offset_are_bounded() -> None:
    assert validate_limit(0) == 0
    assert validate_limit(25) == 25
    with pytest.raises(InvalidInput):
        validate_limit(-1)
    with pytest.raises(InvalidInput):
        validate_limit(1001)
    with pytest.raises(InvalidInput):
        validate_limit(0, allow_zero=False)
    assert validate_offset(0) == 0
    with pytest.raises(InvalidInput) as err:
        validate_offset(-1)
    assert err.value.field == "offset"


def test_spend_limit_is_none_or_positive() -> None:
    assert validate_spend_limit_micros(None) is None
    assert validate_spend_limit_micros(1) == 1
    with pytest.raises(InvalidInput):
        validate_spend_limit_micros(0)


# --- enums --------------------------------------------------------------------------------


def test_busy_behavior_is_queue_or_interrupt() -> None:
    assert parse_busy_behavior("queue") is BusyBehavior.QUEUE
    assert parse_busy_behavior("interrupt") is BusyBehavior.INTERRUPT
    assert parse_busy_behavior(BusyBehavior.QUEUE) is BusyBehavior.QUEUE


@pytest.mark.parametrize("value", ["Queue", "drop", "", None, 0])
def test_unknown_busy_behavior_is_refused_naming_the_choices(value: object) -> None:
    with pytest.raises(InvalidInput, match="'queue', 'interrupt'") as err:
        parse_busy_behavior(value)
    assert err.value.field == "busy_behavior"


class Color(StrEnum):
    RED = "red"
    GREEN = "green"


class Other(StrEnum):
    RED = "red"


class Level(IntEnum):
    LOW = 1


class Flag(Enum):
    ON = True


def test_parse_enum_accepts_members_and_their_values() -> None:
    assert parse_enum(Color, "red", "color") is Color.RED
    assert parse_enum(Color, Color.GREEN, "color") is Color.GREEN
    assert parse_enum(Color, Other.RED, "color") is Color.RED  # same label from another enum
    assert parse_enum(UsageLimitPeriod, "week", "period") is UsageLimitPeriod.WEEK
    assert parse_enum(MCPAvailability, "force_on", "availability") is MCPAvailability.FORCE_ON


def test_parse_enum_does_not_confuse_kinds() -> None:
    assert parse_enum(Level, 1, "level") is Level.LOW
    with pytest.raises(InvalidInput):
        parse_enum(Level, "1", "level")
    with pytest.raises(InvalidInput):
        parse_enum(Level, True, "level")
    with pytest.raises(InvalidInput):
        parse_enum(Flag, 1, "flag")


def test_parse_enum_error_names_the_field() -> None:
    with pytest.raises(InvalidInput, match="invalid period 'year'") as err:
        parse_enum(UsageLimitPeriod, "year", "period")
    assert err.value.field == "period"


def test_parse_uuid_accepts_uuids_and_their_text() -> None:
    u = uuid.uuid4()
    assert parse_uuid(u, "id") == u
    assert parse_uuid(str(u), "id") == u
    with pytest.raises(InvalidInput) as err:
        parse_uuid("not-a-uuid", "chat_id")
    assert err.value.field == "chat_id"
    with pytest.raises(InvalidInput):
        parse_uuid(None, "chat_id")
