"""Message cost in micro-dollars (SPEC 10)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chatdb.cost import (
    CACHE_READ_KEY,
    CACHE_WRITE_KEY,
    INPUT_KEY,
    OUTPUT_KEY,
    ModelPricing,
    message_cost_micros,
)
from chatdb.errors import InvalidInput

SONNET = ModelPricing(
    input=Decimal("3"), output=Decimal("15"), cache_read=Decimal("0.3"), cache_write=Decimal("3.75")
)


def test_one_million_tokens_cost_the_price_per_million_in_micros() -> None:
    assert message_cost_micros(SONNET, input_tokens=1_000_000) == 3_000_000
    assert message_cost_micros(SONNET, output_tokens=1_000_000) == 15_000_000
    assert message_cost_micros(SONNET, cache_read_tokens=1_000_000) == 300_000
    assert message_cost_micros(SONNET, cache_creation_tokens=1_000_000) == 3_750_000


def test_each_bucket_is_billed_at_its_own_price_and_summed() -> None:
    cost = message_cost_micros(
        SONNET,
        input_tokens=1000,
        output_tokens=2000,
        cache_read_tokens=10_000,
        cache_creation_tokens=400,
    )
    assert cost == 1000 * 3 + 2000 * 15 + 3000 + 1500


def test_mixed_usage_sums_exact_components_then_rounds_up() -> None:
    pricing = ModelPricing(
        input=Decimal("1.23"),
        output=Decimal("4.56"),
        cache_read=Decimal("0.7"),
        cache_write=Decimal("7.89"),
    )
    cost = message_cost_micros(
        pricing,
        input_tokens=101,
        output_tokens=201,
        reasoning_tokens=52,
        cache_read_tokens=1005,
        cache_creation_tokens=33,
    )
    # 124.23 + 916.56 + 703.5 + 260.37 = 2004.66 → 2005
    assert cost == 2005


def test_input_tokens_are_not_reduced_by_cache_tokens() -> None:
    # Disjoint buckets: cached tokens are billed on top of input, never subtracted from it.
    with_cache = message_cost_micros(SONNET, input_tokens=100, cache_read_tokens=100)
    assert with_cache == 100 * 3 + 30


def test_reasoning_tokens_are_not_billed_twice() -> None:
    without = message_cost_micros(SONNET, input_tokens=10, output_tokens=500)
    with_reasoning = message_cost_micros(
        SONNET, input_tokens=10, output_tokens=500, reasoning_tokens=400
    )
    assert with_reasoning == without == 10 * 3 + 500 * 15


def test_cost_rounds_up_once_after_summing() -> None:
    pricing = ModelPricing(cache_read=Decimal("0.3"), cache_write=Decimal("0.3"))
    # 0.3 + 0.3 = 0.6 → 1 micro; rounding each component first would give 2.
    assert message_cost_micros(pricing, cache_read_tokens=1, cache_creation_tokens=1) == 1


def test_a_fraction_of_a_micro_rounds_up_to_a_whole_micro() -> None:
    pricing = ModelPricing(input=Decimal("0.000001"))
    assert message_cost_micros(pricing, input_tokens=1) == 1
    assert message_cost_micros(pricing, input_tokens=1_000_000) == 1
    assert message_cost_micros(pricing, input_tokens=1_000_001) == 2


def test_arithmetic_is_exact_decimal_not_float() -> None:
    # 0.1 + 0.2 in binary floating point is 0.30000000000000004, which would ceil to 1 more.
    pricing = ModelPricing(input=Decimal("0.1"), output=Decimal("0.2"))
    assert message_cost_micros(pricing, input_tokens=10, output_tokens=10) == 3


def test_no_pricing_means_unpriced() -> None:
    assert message_cost_micros(None, input_tokens=10, output_tokens=10) is None
    assert message_cost_micros(ModelPricing(), input_tokens=10, output_tokens=10) is None


def test_all_prices_zero_means_free() -> None:
    free = ModelPricing(
        input=Decimal(0), output=Decimal(0), cache_read=Decimal(0), cache_write=Decimal(0)
    )
    assert message_cost_micros(free, input_tokens=1000, output_tokens=1000) == 0


def test_a_message_without_usage_stays_unpriced() -> None:
    assert message_cost_micros(SONNET) is None
    # A count only in a bucket without a price is not priced either (as in the backfill).
    only_input = ModelPricing(input=Decimal("3"))
    assert message_cost_micros(only_input, output_tokens=100) is None
    assert message_cost_micros(only_input, input_tokens=0, output_tokens=100) == 0


def test_a_bucket_without_a_price_costs_nothing() -> None:
    only_output = ModelPricing(output=Decimal("15"))
    assert message_cost_micros(only_output, input_tokens=1000, output_tokens=10) == 150


def test_huge_usage_is_exact_beyond_default_decimal_precision() -> None:
    # The exact product has 34 significant digits; the default 28-digit context would drop
    # the trailing fraction and the ceiling would miss it.
    pricing = ModelPricing(input=Decimal("1.000000000001"))
    tokens = 9_000_000_000_000_000_001
    assert message_cost_micros(pricing, input_tokens=tokens) == 9_000_000_000_009_000_002


def test_a_cost_beyond_bigint_is_refused() -> None:
    pricing = ModelPricing(input=Decimal("999999999"))
    with pytest.raises(InvalidInput) as err:
        message_cost_micros(pricing, input_tokens=2**62)
    assert err.value.field == "total_cost_micros"


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True])
def test_token_counts_must_be_non_negative_integers(bad: object) -> None:
    with pytest.raises(InvalidInput) as err:
        message_cost_micros(SONNET, input_tokens=bad)  # type: ignore[arg-type]
    assert err.value.field == "input_tokens"


# --- reading pricing from chat_model_configs.options -------------------------------------


def test_pricing_is_read_from_the_cost_object_of_options() -> None:
    pricing = ModelPricing.from_options(
        {
            "max_tokens": 4096,
            "cost": {
                INPUT_KEY: "3",
                OUTPUT_KEY: 15,
                CACHE_READ_KEY: 0.3,
                CACHE_WRITE_KEY: "3.75",
            },
        }
    )
    assert pricing == SONNET


def test_json_float_prices_are_read_as_their_decimal_text() -> None:
    pricing = ModelPricing.from_options({"cost": {INPUT_KEY: 0.1, OUTPUT_KEY: 0.2}})
    assert pricing is not None
    assert pricing.input == Decimal("0.1")
    assert message_cost_micros(pricing, input_tokens=10, output_tokens=10) == 3


def test_options_without_cost_are_unpriced() -> None:
    assert ModelPricing.from_options({}) is None
    assert ModelPricing.from_options(None) is None
    assert ModelPricing.from_options({"cost": None}) is None
    empty = ModelPricing.from_options({"cost": {}})
    assert empty == ModelPricing()
    assert message_cost_micros(empty, input_tokens=5) is None


@pytest.mark.parametrize(
    "bad", ["-1", "abc", "1e3", "NaN", "", -0.5, float("inf"), True, [], "0.0000000000001"]
)
def test_a_bad_price_is_refused_when_writing(bad: object) -> None:
    with pytest.raises(InvalidInput) as err:
        ModelPricing.from_options({"cost": {INPUT_KEY: bad}}, strict=True)
    assert err.value.field == f"options.cost.{INPUT_KEY}"


@pytest.mark.parametrize("bad", ["-1", "abc", "1e3", "", True, "1000000000"])
def test_a_bad_price_counts_as_not_configured_when_reading(bad: object) -> None:
    pricing = ModelPricing.from_options({"cost": {INPUT_KEY: bad, OUTPUT_KEY: "2"}})
    assert pricing == ModelPricing(output=Decimal(2))


def test_unknown_pricing_keys_are_refused_when_writing_but_ignored_when_reading() -> None:
    options = {"cost": {"input_price": "3", OUTPUT_KEY: "15"}}
    with pytest.raises(InvalidInput, match="input_price"):
        ModelPricing.from_options(options, strict=True)
    assert ModelPricing.from_options(options) == ModelPricing(output=Decimal(15))


def test_a_cost_that_is_not_an_object_is_refused_when_writing() -> None:
    with pytest.raises(InvalidInput):
        ModelPricing.from_options({"cost": "3"}, strict=True)
    assert ModelPricing.from_options({"cost": "3"}) is None


def test_prices_are_checked_when_built_directly() -> None:
    with pytest.raises(InvalidInput):
        ModelPricing(input=Decimal("-3"))
    with pytest.raises(InvalidInput):
        ModelPricing(output=Decimal("Infinity"))


def test_to_options_round_trips_through_from_options() -> None:
    pricing = ModelPricing(input=Decimal("0.0000001"), output=Decimal("15.50"))
    options = pricing.to_options()
    assert options == {INPUT_KEY: "0.0000001", OUTPUT_KEY: "15.50"}
    assert ModelPricing.from_options({"cost": options}, strict=True) == pricing
