"""``BinanceKline.from_rows`` (one pydantic call for a whole klines answer) parses exactly as ``from_row`` does
row by row, and refuses what it refuses (the HTTP layer maps both errors to MalformedPayload). The row type
is validated by position: each field is the column Binance documents, and a NaN cannot get through."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from providers.binance.models import BinanceKline

from .providers_helpers import fixture_json

NAMES = [
    "fapi_v1_klines.json",
    "fapi_v1_klines.docs.json",
    "fapi_v1_continuousKlines.json",
    "fapi_v1_markPriceKlines.docs.json",
]


@pytest.mark.parametrize("name", NAMES)
def test_from_rows_equals_row_by_row(name: str) -> None:
    rows = fixture_json("binance", name)
    parsed = BinanceKline.from_rows(rows)
    assert isinstance(parsed, tuple) and len(parsed) == len(rows)
    assert parsed == tuple(BinanceKline.from_row(row) for row in rows)
    assert all(type(kline) is BinanceKline for kline in parsed)
    assert parsed[0].close == float(rows[0][4]) and parsed[-1].trades == int(rows[-1][8])


@pytest.mark.parametrize("name", NAMES)
def test_each_field_is_its_documented_column(name: str) -> None:
    rows = fixture_json("binance", name)
    for row, kline in zip(rows, BinanceKline.from_rows(rows), strict=True):
        assert kline.open_time == row[0] and kline.close_time == row[6] and kline.trades == row[8]
        floats = (kline.open, kline.high, kline.low, kline.close, kline.volume)
        assert floats == tuple(float(value) for value in row[1:6])
        assert kline.quote_volume == float(row[7])
        assert (kline.taker_buy_volume, kline.taker_buy_quote_volume) == (float(row[9]), float(row[10]))


def test_from_rows_refuses_a_short_row_a_non_array_and_a_non_finite_number() -> None:
    rows = fixture_json("binance", "fapi_v1_klines.json")
    with pytest.raises(ValidationError, match=r"1\.trades\n  Field required"):  # 8 columns of 11, named
        BinanceKline.from_rows([rows[0], rows[1][:8]])
    with pytest.raises(TypeError, match="kline row is dict"):
        not_a_row: Any = {"open": "1"}
        BinanceKline.from_rows([rows[0], not_a_row])
    with pytest.raises(TypeError, match="kline row is str"):  # a string slices, but it is no row
        BinanceKline.from_row("1789478220000")
    bad = [list(rows[0]), list(rows[1])]
    bad[1][4] = "NaN"  # close: Binance sends numbers as strings, and "NaN" would parse as a float
    with pytest.raises(ValidationError, match=r"1\.close\n  Input should be a finite number"):
        BinanceKline.from_rows(bad)
    assert BinanceKline.from_rows([]) == ()


def test_only_a_column_index_is_renamed_in_an_error_location() -> None:
    """A whole-row error (its location stops at the row) keeps its location; a column index becomes its name."""
    from providers.binance.models import _named

    def error(*loc: int) -> ValidationError:
        return ValidationError.from_exception_data("rows", [{"type": "missing", "loc": loc, "input": []}])

    assert _named(error(1, 4), column_at=1).errors()[0]["loc"] == (1, "close")
    assert _named(error(1), column_at=1).errors()[0]["loc"] == (1,)  # the row itself, not the column "open"
    assert _named(error(4), column_at=0).errors()[0]["loc"] == ("close",)
    assert _named(error(3, 11), column_at=1).errors()[0]["loc"] == (3, 11)  # past the columns: left as it is
