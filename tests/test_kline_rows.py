"""``BinanceKline.from_rows`` (one pydantic call for a whole klines answer) parses exactly as ``from_row`` does
row by row, and refuses what it refuses (the HTTP layer maps both errors to MalformedPayload)."""

from __future__ import annotations

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


def test_from_rows_refuses_a_short_row_and_a_non_finite_number() -> None:
    rows = fixture_json("binance", "fapi_v1_klines.json")
    with pytest.raises(ValueError, match="zip"):
        BinanceKline.from_rows([rows[0], rows[1][:8]])
    bad = [list(rows[0]), list(rows[1])]
    bad[1][4] = "NaN"  # close: Binance sends numbers as strings, and "NaN" would parse as a float
    with pytest.raises(ValidationError, match="close"):
        BinanceKline.from_rows(bad)
    assert BinanceKline.from_rows([]) == ()
