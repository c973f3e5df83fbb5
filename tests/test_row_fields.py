"""Array rows (candles) are named by field names read once per model, not once per row: the same models as
naming them from pydantic's ``model_fields`` on every row (the slow property read it replaces)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.providers_helpers import fixture_json


def test_field_names_are_the_models_fields_in_declaration_order() -> None:
    from providers._shared import field_names
    from providers.binance.models import BinanceKline
    from providers.okx.models import OkxCandle

    assert BinanceKline._fields[:2] == ("open_time", "open")  # a row type: positional by definition
    assert field_names(OkxCandle) == tuple(OkxCandle.model_fields)
    assert field_names(OkxCandle) is field_names(OkxCandle)  # computed once


@pytest.mark.parametrize(("venue", "name"), [("binance", "fapi_v1_klines.json"), ("okx", "api_v5_market_candles.json")])
def test_rows_parse_as_before(venue: str, name: str) -> None:
    from providers.binance.models import BinanceKline
    from providers.okx.models import OkxCandle

    payload: Any = fixture_json(venue, name)
    rows = payload if venue == "binance" else payload["data"]
    if venue == "binance":  # a row type: the columns themselves, parsed
        for row in rows:
            expected = (row[0], *map(float, row[1:6]), row[6], float(row[7]), row[8], *map(float, row[9:11]))
            assert tuple(BinanceKline.from_row(row)) == expected
        return
    names = tuple(OkxCandle.model_fields)
    for row in rows:
        assert OkxCandle.from_row(row) == OkxCandle.model_validate(dict(zip(names, row, strict=False)))
