"""The cost of one message in micro-dollars (1 micro = 1e-6 USD), from token usage and prices.

Prices live in a model config's ``options`` jsonb under ``cost``, in USD per million tokens::

    {"cost": {"input_price_per_million_tokens": "3",
              "output_price_per_million_tokens": "15",
              "cache_read_price_per_million_tokens": "0.30",
              "cache_write_price_per_million_tokens": "3.75"}}

Every key is optional. Values are plain decimal strings like ``"0.25"`` (exact; what
:meth:`ModelPricing.to_options` writes) or JSON numbers, with ``0 <= price < 1e9`` and at
most 12 decimal places. When a config is read, a value breaking these rules counts as not
configured (as in the backfill migration); ``ModelPricing.from_options(..., strict=True)``
refuses it, for writes.

How the token counts are billed (``chat_messages`` columns):

* ``input_tokens`` at the input price, ``output_tokens`` at the output price,
  ``cache_read_tokens`` at the cache-read price, ``cache_creation_tokens`` at the cache-write
  price. The four counts are **disjoint buckets**: ``input_tokens`` counts only the input that
  was neither read from nor written to the cache (Anthropic's convention, and the one the
  analytics views assume by showing Input, Cache Read and Cache Write side by side). A
  provider that reports cached tokens inside its input count (OpenAI) must be normalised by
  the caller before the message is stored — this module never subtracts.
* ``reasoning_tokens`` are part of ``output_tokens`` and are not billed again.
* A bucket whose price is not configured costs nothing. The cost is ``None`` (SQL NULL,
  *unpriced*) when there is no pricing at all, or when no bucket has both a token count and
  a price (a message without usage); that is distinct from ``0`` (free: the prices that
  apply are zero). The ``total_cost_micros`` backfill migration applies the same rules.

Since micros = tokens × (USD per million tokens), each component is an exact product; the
sum is rounded **up** to a whole micro once, at the end (never per component).
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal

from chatdb.errors import InvalidInput

COST_KEY = "cost"
"""The key of the pricing object inside ``chat_model_configs.options``."""

INPUT_KEY = "input_price_per_million_tokens"
OUTPUT_KEY = "output_price_per_million_tokens"
CACHE_READ_KEY = "cache_read_price_per_million_tokens"
CACHE_WRITE_KEY = "cache_write_price_per_million_tokens"

_FIELD_KEYS = {
    "input": INPUT_KEY,
    "output": OUTPUT_KEY,
    "cache_read": CACHE_READ_KEY,
    "cache_write": CACHE_WRITE_KEY,
}

MAX_PRICE = Decimal(10) ** 9
"""Exclusive upper bound of a price (USD per million tokens); keeps the arithmetic exact."""
MAX_PRICE_DECIMALS = 12
_QUANTUM = Decimal(1).scaleb(-MAX_PRICE_DECIMALS)
_PRICE_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?")  # the backfill migration's format
MAX_BIGINT = 2**63 - 1

# Enough digits for (bigint tokens) × (9 integer + 12 fractional digits) × 4, exactly.
_CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_CEILING, traps=[decimal.Inexact])


@dataclass(frozen=True, slots=True)
class ModelPricing:
    """USD per million tokens for each bucket; ``None`` = not configured."""

    input: Decimal | None = None
    output: Decimal | None = None
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                _check_price(value, _FIELD_KEYS[f.name])

    @property
    def is_priced(self) -> bool:
        """Whether any price is configured (otherwise costs are NULL, not 0)."""
        return any(getattr(self, f.name) is not None for f in fields(self))

    @classmethod
    def from_options(
        cls, options: Mapping[str, object] | None, *, strict: bool = False
    ) -> ModelPricing | None:
        """Read ``options["cost"]``; ``None`` when there is no cost object at all.

        ``strict`` (use it when a config is written, so a typo is not silently unpriced)
        raises InvalidInput for unknown keys and bad prices. Otherwise, as the
        ``total_cost_micros`` backfill migration does, a bad price counts as not configured.
        """
        if options is None:
            return None
        cost = options.get(COST_KEY)
        if cost is None:
            return None
        if not isinstance(cost, Mapping):
            if not strict:
                return None
            raise InvalidInput(
                f"options.{COST_KEY} must be an object, got {type(cost).__name__}",
                field=f"options.{COST_KEY}",
            )
        unknown = sorted(str(k) for k in cost if k not in _FIELD_KEYS.values())
        if strict and unknown:
            raise InvalidInput(
                f"unknown pricing key(s) {', '.join(unknown)} in options.{COST_KEY} "
                f"(known: {', '.join(_FIELD_KEYS.values())})",
                field=f"options.{COST_KEY}",
            )
        prices: dict[str, Decimal | None] = {}
        for name, key in _FIELD_KEYS.items():
            try:
                prices[name] = _parse_price(cost.get(key), key)
            except InvalidInput:
                if strict:
                    raise
                prices[name] = None
        return cls(**prices)

    def to_options(self) -> dict[str, str]:
        """The ``options["cost"]`` object for this pricing (decimal strings, unset keys left out)."""
        out: dict[str, str] = {}
        for name, key in _FIELD_KEYS.items():
            value: Decimal | None = getattr(self, name)
            if value is not None:
                out[key] = format(value, "f")  # never exponent notation ("1E-7")
        return out


def message_cost_micros(
    pricing: ModelPricing | None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    reasoning_tokens: int | None = None,
    cache_creation_tokens: int | None = None,
    cache_read_tokens: int | None = None,
) -> int | None:
    """Cost of one message in micro-dollars, or ``None`` when it cannot be priced.

    ``None`` means: no pricing, or no bucket has both a token count and a price (a message
    without usage, e.g. a user message, stays unpriced rather than free). Otherwise ``None``
    counts are zero. ``reasoning_tokens`` is accepted so a usage record can be passed whole;
    it is already inside ``output_tokens``. Same rules as the backfill migration.
    """
    counts = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "reasoning_tokens": reasoning_tokens,
        "cache_creation_tokens": cache_creation_tokens,
        "cache_read_tokens": cache_read_tokens,
    }
    for name, count in counts.items():
        _check_tokens(count, name)
    if pricing is None:
        return None
    components = [
        (tokens, price)
        for tokens, price in (
            (input_tokens, pricing.input),
            (output_tokens, pricing.output),
            (cache_read_tokens, pricing.cache_read),
            (cache_creation_tokens, pricing.cache_write),
        )
        if tokens is not None and price is not None
    ]
    if not components:
        return None
    total = Decimal(0)
    with decimal.localcontext(_CONTEXT):
        for tokens, price in components:
            total += tokens * price
        micros = total.to_integral_value()  # ROUND_CEILING, once
    if micros > MAX_BIGINT:
        raise InvalidInput(
            f"message cost {micros} micros does not fit a bigint", field="total_cost_micros"
        )
    return int(micros)


def _check_tokens(count: int | None, name: str) -> None:
    if count is None:
        return
    if isinstance(count, bool) or not isinstance(count, int):
        raise InvalidInput(f"{name} must be an integer, got {count!r}", field=name)
    if count < 0 or count > MAX_BIGINT:
        raise InvalidInput(f"{name} must be between 0 and {MAX_BIGINT}, got {count}", field=name)


def _parse_price(value: object, key: str) -> Decimal | None:
    field = f"options.{COST_KEY}.{key}"
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"{key} must be a number, got {value!r}", field=field)
    if isinstance(value, Decimal):
        price = value
    elif isinstance(value, int):
        price = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{key} must be finite, got {value!r}", field=field)
        price = Decimal(repr(value))  # the shortest decimal that round-trips: 0.3 → "0.3"
    elif isinstance(value, str):
        if _PRICE_TEXT.fullmatch(value.strip()) is None:
            raise InvalidInput(
                f"{key} must be a plain decimal number like 3 or 0.25, got {value!r}", field=field
            )
        price = Decimal(value.strip())
    else:
        raise InvalidInput(f"{key} must be a number, got {type(value).__name__}", field=field)
    _check_price(price, key)
    return price


def _check_price(price: Decimal, key: str) -> None:
    field = f"options.{COST_KEY}.{key}"
    if not isinstance(price, Decimal):
        raise InvalidInput(f"{key} must be a Decimal, got {type(price).__name__}", field=field)
    if not price.is_finite():
        raise InvalidInput(f"{key} must be finite, got {price}", field=field)
    if price < 0 or price >= MAX_PRICE:
        raise InvalidInput(f"{key} must be >= 0 and < {MAX_PRICE}, got {price}", field=field)
    if price != price.quantize(_QUANTUM, rounding=decimal.ROUND_DOWN):
        raise InvalidInput(
            f"{key} has more than {MAX_PRICE_DECIMALS} decimal places: {price}", field=field
        )
