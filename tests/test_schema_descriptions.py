"""The schema explains itself: every type, field, argument, enum value and input field has a description
(issue 10: a front-end developer reads the schema in GraphiQL or Apollo's tooling, a GPT reads the
generated OpenAPI; neither can ask what a bare name means). Units live in the descriptions or the names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
)

from schema.build import build_schema, possible_types

ROOT = Path(__file__).resolve().parent.parent


def _graphql_schema() -> GraphQLSchema:
    return build_schema()._schema


def _items(schema: GraphQLSchema) -> list[tuple[str, str | None]]:
    """(coordinate, description) of every described-able item that is ours (not introspection's)."""
    items: list[tuple[str, str | None]] = []
    for name, gql_type in schema.type_map.items():
        if name.startswith("__"):
            continue
        items.append((name, gql_type.description))
        if isinstance(gql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in gql_type.fields.items():
                items.append((f"{name}.{field_name}", field.description))
                for arg_name, arg in field.args.items():
                    items.append((f"{name}.{field_name}({arg_name}:)", arg.description))
        elif isinstance(gql_type, GraphQLInputObjectType):
            for field_name, input_field in gql_type.fields.items():
                items.append((f"{name}.{field_name}", input_field.description))
        elif isinstance(gql_type, GraphQLEnumType):
            for value_name, value in gql_type.values.items():
                items.append((f"{name}.{value_name}", value.description))
    return items


def test_every_type_field_argument_and_enum_value_is_described() -> None:
    items = _items(_graphql_schema())
    undescribed = [coordinate for coordinate, description in items if not (description or "").strip()]
    described = len(items) - len(undescribed)
    print(f"described {described} of {len(items)} ({100 * described / len(items):.1f} %)")
    assert len(items) > 400  # the walk reached fields, arguments and enum values, not only types
    assert undescribed == [], f"{len(undescribed)} undescribed: {undescribed}"


def test_descriptions_are_not_just_the_name() -> None:
    """A description that repeats the name (``symbol: "symbol"``) explains nothing."""
    lazy = [
        coordinate
        for coordinate, description in _items(_graphql_schema())
        if description is not None
        and description.strip(" .").lower() == coordinate.rsplit(".", 1)[-1].strip("():").lower()
    ]
    assert lazy == []


def test_prices_times_and_ratios_state_their_units() -> None:
    schema = _graphql_schema()
    unitless: list[str] = []
    for name, gql_type in schema.type_map.items():
        if name.startswith("__") or not isinstance(gql_type, GraphQLObjectType | GraphQLInterfaceType):
            continue
        for field_name, field in gql_type.fields.items():
            text = field.description or ""
            is_price = field_name == "price" or field_name.endswith("Price")
            if is_price and "USDT" not in text and "USD" not in text:
                unitless.append(f"{name}.{field_name}")
            if field_name.endswith("Pct") and "percent" not in text.lower() and "%" not in text:
                unitless.append(f"{name}.{field_name}")
            if field_name.endswith(("At", "Time")) and "UTC" not in text:
                unitless.append(f"{name}.{field_name}")
    assert unitless == []


def test_no_ratio_is_a_fraction_under_a_rate_name() -> None:
    """One convention for ratios: percent, named ...Pct (winRate was a fraction beside meanReturnPct)."""
    schema = _graphql_schema()
    fraction_names = {"winRate", "winRateLow", "winRateHigh", "rate", "meanLow", "meanHigh"}
    found = [
        f"{name}.{field_name}"
        for name, gql_type in schema.type_map.items()
        if isinstance(gql_type, GraphQLObjectType) and not name.startswith("__")
        for field_name in gql_type.fields
        if field_name in fraction_names and name != "VenueFunding"  # funding rates: the venue's own fraction
    ]
    assert found == []


def test_closed_sets_are_enums() -> None:
    schema = _graphql_schema()

    def type_name(type_: str, field: str) -> str:
        gql_type = schema.type_map[type_]
        assert isinstance(gql_type, GraphQLObjectType)
        named = gql_type.fields[field].type
        while hasattr(named, "of_type"):
            named = named.of_type
        return str(named)

    assert type_name("LiveLiquidation", "side") == "PositionSide"
    assert type_name("LiveTrade", "takerSide") == "TakerSide"
    for type_, field in [("LiveLiquidation", "venue"), ("LiveTrade", "venue"), ("LiveCandle", "venue")]:
        assert type_name(type_, field) == "Venue"
    for type_, field in [("CandleSeries", "interval"), ("LiveCandle", "interval"), ("OpenInterestSeries", "period")]:
        assert type_name(type_, field) == "CandleInterval"
    assert type_name("StoredFactor", "name") == "FactorName"
    assert type_name("FactorAgreement", "factor") == "FactorName"


def test_venue_enum_names_every_registered_provider() -> None:
    from providers.registry import PROVIDER_MODULES

    venue = _graphql_schema().type_map["Venue"]
    assert isinstance(venue, GraphQLEnumType)
    assert set(PROVIDER_MODULES) <= set(venue.values)


def test_cached_entities_have_ids() -> None:
    """Apollo normalizes by ``id`` + ``__typename``: whatever a client caches carries an ``ID!``."""
    schema = _graphql_schema()
    for name in ["Signal", "HistorySignal", "Market", "Symbol", "ExchangeStatus", "Exchange", "CandleSeries"]:
        gql_type = schema.type_map[name]
        assert isinstance(gql_type, GraphQLObjectType)
        assert "id" in gql_type.fields, name
        assert str(gql_type.fields["id"].type) == "ID!", name


def test_signal_id_is_deterministic_and_distinguishes_moments() -> None:
    from datetime import UTC, datetime

    from engine import Mode
    from engine.market import Timeframe
    from schema.types import signal_id

    moment = datetime(2026, 11, 30, 12, 0, 0, 123000, tzinfo=UTC)
    first = signal_id("BTCUSDT", Timeframe.H4, Mode.AGGRESSIVE, moment)
    assert first == signal_id("BTCUSDT", Timeframe.H4, Mode.AGGRESSIVE, moment)
    assert first == "BTCUSDT:4h:aggressive:1796040000123"
    others = {
        signal_id("ETHUSDT", Timeframe.H4, Mode.AGGRESSIVE, moment),
        signal_id("BTCUSDT", Timeframe.H1, Mode.AGGRESSIVE, moment),
        signal_id("BTCUSDT", Timeframe.H4, Mode.ULTRA, moment),
        signal_id("BTCUSDT", Timeframe.H4, Mode.AGGRESSIVE, moment.replace(microsecond=124000)),
    }
    assert first not in others and len(others) == 4


def test_possible_types_lists_every_union_and_interface() -> None:
    schema = _graphql_schema()
    mapping = possible_types(build_schema())
    abstract = {
        name
        for name, t in schema.type_map.items()
        if isinstance(t, GraphQLUnionType | GraphQLInterfaceType) and not name.startswith("__")
    }
    assert set(mapping) == abstract
    assert "InvalidInput" in mapping["Problem"] and "SymbolNotFound" in mapping["SignalResult"]
    assert mapping["SignalResult"][0] == "Signal"


def test_export_schema_possible_types_cli() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "signal_api.cli", "export-schema", "--possible-types"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    mapping = json.loads(completed.stdout)
    assert mapping == possible_types(build_schema())
