"""What the venue folders share (``providers/_shared.py``): rows by position, blank fields, the checked
conversion of venue models, its memo per raw answer, and the error-code table."""

from __future__ import annotations

import pytest

from providers._shared import (
    Conversions,
    ErrorCodes,
    OptFloat,
    RowModel,
    VenueModel,
    converted,
    rows_as,
    status_decides,
)
from providers.errors import InvalidRequest, InvalidSymbol, MalformedPayload, RateLimited, UpstreamUnavailable
from providers.okx.domain import to_candles
from providers.okx.raw import parse_candles
from tests.providers_helpers import fixture_json


class _Row(RowModel):
    ts: int
    price: float
    note: OptFloat = None


class _Named(VenueModel):
    price: float
    size: OptFloat = None


def test_rows_by_position_and_by_name() -> None:
    assert rows_as(_Row, [["1", "2.5"], ["3", "4", ""], ["5", "6", "7", "extra"]]) == (
        _Row(ts=1, price=2.5),
        _Row(ts=3, price=4.0),
        _Row(ts=5, price=6.0, note=7.0),
    )
    assert rows_as(_Named, [{"price": "1.5", "size": "", "other": 1}]) == (_Named(price=1.5),)
    with pytest.raises(TypeError):
        rows_as(_Row, [{"ts": 1, "price": 2}])
    with pytest.raises(ValueError):  # a missing column is a validation error
        rows_as(_Row, [["1"]])


def test_nan_is_refused_by_every_venue_model() -> None:
    with pytest.raises(ValueError, match="finite"):
        _Named.model_validate({"price": "NaN"})


def test_converted_names_the_endpoint_on_a_bad_shape_or_a_non_finite_result() -> None:
    with pytest.raises(MalformedPayload) as shape:
        converted("okx", "market.candles", {}, lambda value: value["missing"])
    assert shape.value.source == "okx.market.candles"
    with pytest.raises(MalformedPayload) as infinite:
        converted("bybit", "market.account-ratio", 0.0, lambda sell: 1.0 / sell if sell else float("inf"))
    assert "NaN or Infinity" in infinite.value.message


def test_conversions_convert_each_raw_answer_once() -> None:
    calls: list[int] = []

    def count(rows: tuple[object, ...], scale: float) -> float:
        calls.append(len(rows))
        return len(rows) * scale

    convert = Conversions("okx", size=2)
    first, second, third = tuple("a"), tuple("bb"), tuple("ccc")
    assert convert("e", first, count, 2.0) == 2.0
    assert convert("e", first, count, 2.0) == 2.0
    assert calls == [1]  # the same answer object: converted once
    assert convert("e", first, count, 3.0) == 3.0  # other arguments are another conversion
    assert convert("e", tuple("a"), count, 2.0) == 2.0  # an equal but new answer (after the TTL): again
    assert calls == [1, 1, 1]
    convert("e", second, count, 1.0)
    convert("e", third, count, 1.0)  # the memo holds two entries: the oldest go first
    convert("e", first, count, 2.0)
    assert calls == [1, 1, 1, 2, 3, 1]


def test_conversions_give_the_same_result_as_the_plain_conversion() -> None:
    rows = parse_candles(fixture_json("okx", "api_v5_market_candles.json"))
    convert = Conversions("okx")
    memoized = convert("market.candles", rows, to_candles)
    assert memoized == to_candles(rows)
    assert convert("market.candles", rows, to_candles) is memoized


def test_error_codes_by_what_the_caller_should_do() -> None:
    codes = ErrorCodes(rate_limited=frozenset({"1"}), unavailable=frozenset({"2"}), bad_symbol=frozenset({"3"}))
    assert type(codes.error("v", "e", 200, "1", "m")) is RateLimited
    assert type(codes.error("v", "e", 200, "2", "m")) is UpstreamUnavailable
    assert type(codes.error("v", "e", 200, "3", "m")) is InvalidSymbol
    assert type(codes.error("v", "e", 200, "4", "m", bad_symbol=True)) is InvalidSymbol
    error = codes.error("v", "e", 400, "4", "code 4: no")
    assert type(error) is InvalidRequest and error.status == 400 and error.message == "code 4: no"
    assert [s for s in (200, 400, 418, 429, 451, 500, 503) if status_decides(s)] == [418, 429, 451, 500, 503]
