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

    for model in (BinanceKline, OkxCandle):
        assert field_names(model) == tuple(model.model_fields)
        assert field_names(model) is field_names(model)  # computed once


@pytest.mark.parametrize(("venue", "name"), [("binance", "fapi_v1_klines.json"), ("okx", "api_v5_market_candles.json")])
def test_rows_parse_as_before(venue: str, name: str) -> None:
    from providers.binance.models import BinanceKline
    from providers.okx.models import OkxCandle

    payload: Any = fixture_json(venue, name)
    rows = payload if venue == "binance" else payload["data"]
    model: Any = BinanceKline if venue == "binance" else OkxCandle
    names = tuple(model.model_fields)
    for row in rows:
        expected = model.model_validate(
            dict(zip(names, row[: len(names)], strict=True))
            if venue == "binance"
            else dict(zip(names, row, strict=False))
        )
        assert model.from_row(row) == expected
