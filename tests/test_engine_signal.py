"""compute_signal on hand-built snapshots: weighting, renormalization, refusal, staleness, confidence."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine import (
    WEIGHTS,
    FactorName,
    InputName,
    MarketSnapshot,
    Mode,
    Reading,
    Recommendation,
    Signal,
    SignalRefused,
    Tier,
    compute_confidence,
    compute_signal,
)
from engine.market import (
    Candle,
    FearGreed,
    FundingRate,
    LiquidationTotals,
    LongShortPoint,
    OpenInterestPoint,
    SocialSentiment,
    Timeframe,
)

AS_OF = datetime(2025, 7, 11, 20, 0, tzinfo=UTC)
H4 = timedelta(hours=4)


def ok(value: Any, source: str = "test") -> Reading[Any]:
    return Reading(value=value, source=source)


def candles(closes: list[float], last_open: datetime = AS_OF - H4) -> tuple[Candle, ...]:
    start = last_open - H4 * (len(closes) - 1)
    return tuple(Candle(start + H4 * i, c, c, c, c, 100.0) for i, c in enumerate(closes))


def oi_series(change_pct: float) -> tuple[OpenInterestPoint, ...]:
    """Seven 4h points spanning exactly 24h, the last ``change_pct`` % above the first."""
    times = [AS_OF - timedelta(hours=24) + H4 * i for i in range(7)]
    values = [1000.0] * 6 + [1000.0 * (1 + change_pct / 100)]
    return tuple(OpenInterestPoint(t, v) for t, v in zip(times, values, strict=True))


def ls(long_pct: float) -> LongShortPoint:
    return LongShortPoint(AS_OF - H4, long_pct, long_pct / (100 - long_pct))


def neutral(**changes: Any) -> MarketSnapshot:
    """Every factor scores exactly 50; keyword arguments replace readings."""
    base = MarketSnapshot(
        symbol="BTCUSDT",
        timeframe=Timeframe.H4,
        as_of=AS_OF,
        price=Reading(value=100_000.0, source="binance.ticker", observed_at=AS_OF),
        candles=ok(candles([100.0] * 30), "binance.klines"),
        funding=ok(FundingRate("BTCUSDT", 0.0001, 8.0, AS_OF - H4), "binance.premiumIndex"),
        global_long_short=ok(ls(50.0), "binance.globalLongShortAccountRatio"),
        top_trader_positions=ok(ls(50.0), "binance.topLongShortPositionRatio"),
        open_interest=ok(oi_series(0.0), "binance.openInterestHist"),
        liquidations=ok(LiquidationTotals(timedelta(hours=24), 500.0, 500.0), "coinglass.liquidations"),
        social=ok(SocialSentiment(50.0, "coingecko.sentiment_up"), "coingecko"),
        fear_greed=ok(FearGreed(50.0, "Neutral", AS_OF - timedelta(hours=12)), "alternative_me"),
    )
    return dataclasses.replace(base, **changes)


def factor(signal: Signal, name: FactorName) -> Any:
    return next(f for f in signal.factors if f.name is name)


def bullish() -> MarketSnapshot:
    return neutral(
        candles=ok(candles([100.0 + i for i in range(30)])),
        funding=ok(FundingRate("BTCUSDT", -0.001, 8.0, AS_OF - H4)),  # -0.1 % → 70
        liquidations=ok(LiquidationTotals(timedelta(hours=24), 600.0, 400.0)),  # 60 % longs → 70
        global_long_short=ok(ls(30.0)),  # → 75
        top_trader_positions=ok(ls(65.0)),  # → 70
        open_interest=ok(oi_series(6.0)),  # → 75
        social=ok(SocialSentiment(80.0, "galaxy")),  # → 80
        fear_greed=ok(FearGreed(20.0, "Fear", AS_OF)),  # → 20
    )


def test_neutral_snapshot_scores_50_with_full_quality() -> None:
    signal = compute_signal(neutral(), Mode.AGGRESSIVE)
    assert signal.score == 50.0
    assert signal.recommendation is Recommendation.NEUTRAL
    assert signal.confidence == 0.0
    assert signal.top_factors == ()  # nothing pulls away from neutral
    assert signal.data_quality.score == 100.0
    assert signal.data_quality.missing == ()
    assert signal.generated_at == AS_OF
    assert signal.price == 100_000.0
    assert [f.name for f in signal.factors] == list(FactorName)


def test_all_factors_present_score_is_weighted_sum() -> None:
    signal = compute_signal(bullish(), Mode.AGGRESSIVE)
    scores = {f.name: f.score for f in signal.factors}
    assert scores == {
        FactorName.LIQUIDATIONS: 70,
        FactorName.MOMENTUM: 100,  # 50 +25 sma -15 rsi 100 +30 macd +5 flat volume, clamp, +15 mtf
        FactorName.FUNDING: 70,
        FactorName.LONG_SHORT: 75,
        FactorName.SMART_MONEY: 70,
        FactorName.OI_TREND: 75,
        FactorName.SOCIAL: 80,
        FactorName.FEAR_GREED: 20,
    }
    # (70·24 + 100·20 + 70·18 + 75·11 + 70·11 + 75·6 + 80·6 + 20·4) / 100 = 7545 / 100
    assert signal.score == 75.45
    assert sum(f.contribution for f in signal.factors) == pytest.approx(75.45)
    assert all(f.effective_weight == f.weight for f in signal.factors)
    assert signal.recommendation is Recommendation.LONG
    # pulls: momentum 50·20=1000, liquidations 20·24=480, funding 20·18=360, long/short 25·11=275, ...
    assert [f.name for f in signal.top_factors] == [
        FactorName.MOMENTUM,
        FactorName.LIQUIDATIONS,
        FactorName.FUNDING,
    ]
    assert factor(signal, FactorName.MOMENTUM).raw_value == 100.0  # RSI of a series that never fell
    assert "contrarian 70" in factor(signal, FactorName.FUNDING).detail


@pytest.mark.parametrize(
    ("smart_money_pct", "mode", "expected"),
    [
        # liquidations 70 alone: 50 + 20·24/100 = 54.8
        (50.0, Mode.ULTRA, Recommendation.LONG),
        (50.0, Mode.AGGRESSIVE, Recommendation.NEUTRAL),
        (50.0, Mode.CONSERVATIVE, Recommendation.NEUTRAL),
        # plus smart money 60: 54.8 + 10·11/100 = 55.9
        (55.0, Mode.AGGRESSIVE, Recommendation.LONG),
        (55.0, Mode.CONSERVATIVE, Recommendation.NEUTRAL),
    ],
)
def test_recommendation_per_mode(smart_money_pct: float, mode: Mode, expected: Recommendation) -> None:
    snapshot = neutral(
        liquidations=ok(LiquidationTotals(timedelta(hours=24), 700.0, 300.0)),
        top_trader_positions=ok(ls(smart_money_pct)),
    )
    signal = compute_signal(snapshot, mode)
    assert signal.score == (54.8 if smart_money_pct == 50.0 else 55.9)
    assert signal.recommendation is expected
    assert signal.mode is mode and signal.thresholds == mode.thresholds


def test_short_when_bearish() -> None:
    snapshot = neutral(
        liquidations=ok(LiquidationTotals(timedelta(hours=24), 100.0, 900.0)),  # 10 % longs → 30
        funding=ok(FundingRate("BTCUSDT", 0.006, 8.0, AS_OF)),  # 0.6 % → 20
    )
    signal = compute_signal(snapshot, Mode.CONSERVATIVE)
    # 50 - 20·24/100 - 30·18/100 = 50 - 4.8 - 5.4
    assert signal.score == 39.8
    assert signal.recommendation is Recommendation.SHORT


def test_missing_factor_is_reported_and_weights_renormalize() -> None:
    snapshot = bullish()
    snapshot = dataclasses.replace(
        snapshot,
        liquidations=Reading.missing("HTTP 500", source="coinglass", failed=("binance.forceOrder: timeout",)),
    )
    signal = compute_signal(snapshot, Mode.AGGRESSIVE)
    liq = factor(signal, FactorName.LIQUIDATIONS)
    assert not liq.available
    assert liq.score is None and liq.contribution == 0.0 and liq.effective_weight == 0.0
    assert liq.error == "HTTP 500"
    assert liq.failed_sources == ("binance.forceOrder: timeout",)
    assert sum(f.effective_weight for f in signal.factors) == pytest.approx(100.0)
    assert factor(signal, FactorName.MOMENTUM).effective_weight == pytest.approx(20 / 76 * 100)
    # (7545 - 70·24) / 76 = 5865 / 76
    assert signal.score == round(5865 / 76, 2)
    assert "liquidations: HTTP 500" in signal.data_quality.missing
    assert signal.data_quality.score == round(600 / 7, 1)
    assert signal.data_quality.tier(Tier.IMPORTANT).available == 4
    assert FactorName.LIQUIDATIONS not in [f.name for f in signal.top_factors]


def test_missing_optional_input_does_not_lower_quality() -> None:
    signal = compute_signal(neutral(social=Reading.missing("no key")), Mode.AGGRESSIVE)
    assert signal.data_quality.score == 100.0
    assert signal.data_quality.missing == ("social: no key",)
    optional = signal.data_quality.tier(Tier.OPTIONAL)
    assert (optional.available, optional.expected) == (1, 2)
    status = next(s for s in signal.data_quality.sources if s.input is InputName.SOCIAL)
    assert not status.ok and status.tier is Tier.OPTIONAL


def test_missing_price_is_refused() -> None:
    with pytest.raises(SignalRefused) as caught:
        compute_signal(neutral(price=Reading.missing("all price sources failed")), Mode.AGGRESSIVE)
    assert caught.value.code == "NO_PRICE"
    assert "all price sources failed" in caught.value.message
    assert "price: all price sources failed" in caught.value.missing


def test_low_quality_is_refused_naming_the_missing_inputs() -> None:
    snapshot = neutral(
        candles=Reading.missing("HTTP 418"),
        funding=Reading.missing("timeout"),
        global_long_short=Reading.missing("banned"),
        top_trader_positions=Reading.missing("banned"),
    )
    with pytest.raises(SignalRefused) as caught:
        compute_signal(snapshot, Mode.AGGRESSIVE)
    refused = caught.value
    assert refused.code == "INSUFFICIENT_DATA"
    assert refused.data_quality.score == round(300 / 7, 1)  # price, open interest, liquidations
    for name in ("candles", "funding", "global_long_short", "top_trader_positions"):
        assert name in refused.message
    assert "candles: HTTP 418" in refused.missing


def test_four_of_seven_inputs_are_enough() -> None:
    snapshot = neutral(funding=Reading.missing("x"), global_long_short=Reading.missing("y"))
    snapshot = dataclasses.replace(snapshot, top_trader_positions=Reading.missing("z"))
    assert compute_signal(snapshot, Mode.AGGRESSIVE).data_quality.score == 57.1


def test_stale_candles_are_unavailable() -> None:
    old = candles([100.0 + i for i in range(30)], last_open=AS_OF - timedelta(hours=9))
    signal = compute_signal(neutral(candles=ok(old)), Mode.AGGRESSIVE)
    momentum = factor(signal, FactorName.MOMENTUM)
    assert not momentum.available
    assert momentum.error == "stale: observed 2025-07-11T11:00:00+00:00, older than 8h05m"
    assert signal.data_quality.score == round(600 / 7, 1)


def test_stamped_observed_at_is_judged() -> None:
    stale_price = Reading(value=100.0, source="x", observed_at=AS_OF - timedelta(minutes=11))
    with pytest.raises(SignalRefused) as caught:
        compute_signal(neutral(price=stale_price), Mode.AGGRESSIVE)
    assert caught.value.code == "NO_PRICE"
    assert "older than 10m" in caught.value.message
    fresh = Reading(value=100.0, source="x", observed_at=AS_OF - timedelta(minutes=9))
    assert compute_signal(neutral(price=fresh), Mode.AGGRESSIVE).price == 100.0


def test_short_history_momentum_and_oi_are_missing_not_neutral() -> None:
    short_oi = oi_series(10.0)[1:]  # spans 20h only
    snapshot = neutral(candles=ok(candles([100.0] * 29)), open_interest=ok(short_oi))
    signal = compute_signal(snapshot, Mode.AGGRESSIVE)
    assert not factor(signal, FactorName.MOMENTUM).available
    oi = factor(signal, FactorName.OI_TREND)
    assert not oi.available and oi.error is not None and "too short" in oi.error
    assert signal.data_quality.score == round(500 / 7, 1)


def test_no_liquidations_in_window_is_unavailable() -> None:
    empty = ok(LiquidationTotals(timedelta(hours=24), 0.0, 0.0))
    liq = factor(compute_signal(neutral(liquidations=empty), Mode.AGGRESSIVE), FactorName.LIQUIDATIONS)
    assert not liq.available and liq.error is not None and "no liquidations" in liq.error


def test_hourly_funding_is_normalized_to_8h() -> None:
    """0.0001 per 1h = 0.08 % per 8h → 42; read per interval it would wrongly be 0.01 % → 50."""
    hourly = ok(FundingRate("BTCUSDT", 0.0001, 1.0, AS_OF - timedelta(minutes=30)), "hyperliquid")
    funding = factor(compute_signal(neutral(funding=hourly), Mode.AGGRESSIVE), FactorName.FUNDING)
    assert funding.raw_value == pytest.approx(0.08)
    assert funding.score == 42
    assert funding.detail == "funding 0.0800% per 8h (0.0100% per 1h interval) → contrarian 42"
    assert funding.source == "hyperliquid"


def test_confidence_zero_for_perfectly_opposed_factors() -> None:
    # long/short 44 % → 60 (d=+0.2, w=11), smart money 44 % → 40 (d=-0.2, w=11): they cancel exactly
    snapshot = neutral(global_long_short=ok(ls(44.0)), top_trader_positions=ok(ls(44.0)))
    signal = compute_signal(snapshot, Mode.AGGRESSIVE)
    assert factor(signal, FactorName.LONG_SHORT).score == 60
    assert factor(signal, FactorName.SMART_MONEY).score == 40
    assert signal.confidence == 0.0
    assert signal.score == 50.0


def test_confidence_high_when_factors_agree() -> None:
    agreeing = compute_signal(bullish(), Mode.AGGRESSIVE).confidence
    assert agreeing > 50
    # The same strengths pulling against each other give much less confidence.
    mixed = compute_signal(
        dataclasses.replace(bullish(), candles=ok(candles([130.0 - i for i in range(30)]))), Mode.AGGRESSIVE
    ).confidence
    assert 0 <= mixed < agreeing


def test_confidence_formula() -> None:
    assert compute_confidence([(100.0, 1.0), (100.0, 3.0)]) == 100.0
    assert compute_confidence([(100.0, 1.0), (0.0, 1.0)]) == 0.0
    assert compute_confidence([(75.0, 1.0)]) == round(100 * 0.5**0.5, 1)  # 70.7
    # strength = .5·.5 + .5·.1 = .3; net = .5·.5 - .5·.1 = .2; consistency 2/3 → 100·(2/3)·√.3
    assert compute_confidence([(75.0, 1.0), (45.0, 1.0)]) == round(100 * (2 / 3) * 0.3**0.5, 1)
    assert compute_confidence([]) == 0.0


def test_deterministic() -> None:
    assert compute_signal(bullish(), Mode.ULTRA) == compute_signal(bullish(), Mode.ULTRA)


def test_weights_table_is_what_the_signal_reports() -> None:
    signal = compute_signal(neutral(), Mode.AGGRESSIVE)
    assert {f.name: f.weight for f in signal.factors} == dict(WEIGHTS)
