"""Causal context features for the CALIBRATED mode: what the eight factors do not see.

One function, :func:`context_features`, computes them from the closed candles the momentum factor reads
and from the factors the engine already scored (their ``raw_value`` and availability, after the engine's
own freshness checks). The backtest calls it on each bar's snapshot and live signals call it on the
gateway's snapshot, so a feature means the same number in both. Everything is read at or before the
snapshot's ``as_of``: the candles are closed bars, the factors are the engine's own readings.

A feature that cannot be computed (too few candles, the factor unavailable) is ``None``; the model
scores it at its training mean and the answer lists it as missing. No feature is silently defaulted.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from engine.factors import NEUTRAL_SCORE
from engine.indicators import ema_series
from engine.smc import Direction, EventKind, Structure, analyze_structure
from engine.weights import FactorName

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from engine.market import Candle
    from engine.signal import FactorScore

ATR_PERIOD = 14
TREND_FAST, TREND_SLOW = 20, 50
EFFICIENCY_BARS = 20
RANGE_BARS = 30  # 5 days of 4 h bars
MOVE_BARS = 18  # 3 days of 4 h bars
RV_BARS = 6  # 24 h of 4 h bars
SMC_BARS = 100  # the structure of the last 100 bars: ~0.4 ms (200 bars would cost ~0.8 ms per signal)
MIN_RV_WINDOWS = 30

FEATURES: tuple[str, ...] = (
    "trend_strength",  # (EMA20 - EMA50) / ATR14, signed
    "trend_efficiency",  # net 20-bar move / path length, -1..1
    "atr_pct",  # ATR14 / close, percent
    "realized_vol_pct_rank",  # 24 h realized volatility's rank among the window's 24 h windows, 0..1
    "range_position",  # close in the 5-day high-low range, -0.5 (at the low) .. +0.5 (at the high)
    "move_3d_z",  # 3-day log return / (1-bar volatility x sqrt(18))
    "momentum",  # the momentum factor's score, (score - 50) / 50
    "funding_bp_8h",  # funding rate in basis points per 8 h
    "crowd_long_tilt",  # global accounts long % - 50, in tens of points
    "top_trader_long_tilt",  # top traders' positions long % - 50, in tens of points
    "liquidation_imbalance",  # (long - short) / (long + short) liquidated USD over 24 h, -1..1
    "oi_change_24h_pct",  # open interest change over 24 h, percent
    "fear_greed",  # the fear & greed factor's score, (score - 50) / 50
    "smc_structure",  # Smart Money structure of the last 100 bars: +1 bullish, -1 bearish, 0 ranging
    "smc_last_choch",  # the latest break was a change of character: +1 bullish, -1 bearish, 0 otherwise
)
FEATURE_DESCRIPTIONS: Mapping[str, str] = {
    "trend_strength": "Trend strength: (EMA20 − EMA50) / ATR14 on the closed bars, signed.",
    "trend_efficiency": "Trend efficiency: the net 20-bar move over the path length, −1..1.",
    "atr_pct": "Volatility regime: ATR14 as a percent of the close.",
    "realized_vol_pct_rank": "Volatility regime: the last 24 h realized volatility's rank among the window's, 0..1.",
    "range_position": "Overextension: the close's place in the 5-day high-low range, −0.5 (low) .. +0.5 (high).",
    "move_3d_z": "Overextension: the 3-day log return in units of its volatility (z-score).",
    "momentum": "The momentum factor's score, (score − 50) / 50.",
    "funding_bp_8h": "Funding extreme: the funding rate in basis points per 8 h.",
    "crowd_long_tilt": "Positioning extreme: global accounts long % − 50, in tens of points.",
    "top_trader_long_tilt": "Positioning extreme: top traders' positions long % − 50, in tens of points.",
    "liquidation_imbalance": "Liquidation imbalance over 24 h: (long − short) / (long + short) liquidated USD.",
    "oi_change_24h_pct": "Open interest change over 24 h, percent.",
    "fear_greed": "The fear & greed factor's score, (score − 50) / 50.",
    "smc_structure": "Smart Money structure of the last 100 closed bars: +1 bullish, −1 bearish, 0 ranging.",
    "smc_last_choch": "The latest structure break was a change of character: +1 bullish, −1 bearish, 0 otherwise.",
}

FeatureVector = tuple[float | None, ...]


def candle_features(candles: Sequence[Candle]) -> dict[str, float | None]:
    """The price-only features from oldest-first closed candles (``None`` where the window is too short).

    numpy over at most the window's 200 bars: tens of microseconds, so live scoring stays far below 1 ms."""
    out: dict[str, float | None] = dict.fromkeys(FEATURES[:6])
    n = len(candles)
    if n < 2:
        return out
    closes = np.fromiter((c.close for c in candles), dtype=float, count=n)
    highs = np.fromiter((c.high for c in candles), dtype=float, count=n)
    lows = np.fromiter((c.low for c in candles), dtype=float, count=n)
    if not (np.all(np.isfinite(closes)) and np.all(closes > 0)):
        return out
    close = float(closes[-1])
    if n >= ATR_PERIOD + 1:
        prev = closes[-ATR_PERIOD - 1 : -1]
        true_range = np.maximum(highs[-ATR_PERIOD:], prev) - np.minimum(lows[-ATR_PERIOD:], prev)
        atr = float(true_range.mean())
        if atr > 0:
            out["atr_pct"] = atr / close * 100.0
            if n >= TREND_SLOW:
                values = closes.tolist()
                fast, slow = ema_series(values, TREND_FAST)[-1], ema_series(values, TREND_SLOW)[-1]
                out["trend_strength"] = max(-10.0, min(10.0, (fast - slow) / atr))
    if n > EFFICIENCY_BARS:
        window = closes[-EFFICIENCY_BARS - 1 :]
        path = float(np.abs(np.diff(window)).sum())
        out["trend_efficiency"] = float(window[-1] - window[0]) / path if path > 0 else 0.0
    if n >= RANGE_BARS:
        high, low = float(highs[-RANGE_BARS:].max()), float(lows[-RANGE_BARS:].min())
        out["range_position"] = (close - low) / (high - low) - 0.5 if high > low else 0.0
    returns = np.diff(np.log(closes))
    if returns.size >= MOVE_BARS + 2:
        sigma = float(returns.std())
        if sigma > 0:
            out["move_3d_z"] = float(returns[-MOVE_BARS:].sum()) / (sigma * math.sqrt(MOVE_BARS))
    if returns.size - RV_BARS + 1 >= MIN_RV_WINDOWS:
        windows = np.lib.stride_tricks.sliding_window_view(returns, RV_BARS)
        vols = windows.std(axis=1)
        out["realized_vol_pct_rank"] = float(np.mean(vols <= vols[-1]))
    return out


def structure_features(candles: Sequence[Candle]) -> dict[str, float | None]:
    """Smart Money structure (``engine.smc``, causal) of the last :data:`SMC_BARS` closed candles."""
    recent = candles[-SMC_BARS:]
    if len(recent) < 2:
        return {"smc_structure": None, "smc_last_choch": None}
    reading = analyze_structure(recent, interval=recent[-1].open_time - recent[-2].open_time)
    structure = {Structure.BULLISH: 1.0, Structure.BEARISH: -1.0}.get(reading.structure, 0.0)
    last_break = next((e for e in reversed(reading.events) if e.kind in (EventKind.BOS, EventKind.CHOCH)), None)
    choch = 0.0
    if last_break is not None and last_break.kind is EventKind.CHOCH:
        choch = 1.0 if last_break.direction is Direction.BULLISH else -1.0
    return {"smc_structure": structure, "smc_last_choch": choch}


def _raw(factors: Mapping[FactorName, FactorScore], name: FactorName) -> float | None:
    factor = factors.get(name)
    if factor is None or not factor.available or factor.raw_value is None or not math.isfinite(factor.raw_value):
        return None
    return factor.raw_value


def _centred_score(factors: Mapping[FactorName, FactorScore], name: FactorName) -> float | None:
    factor = factors.get(name)
    if factor is None or factor.score is None:
        return None
    return (factor.score - NEUTRAL_SCORE) / NEUTRAL_SCORE


def context_features(candles: Sequence[Candle], factors: Sequence[FactorScore]) -> FeatureVector:
    """Every feature in :data:`FEATURES` order from the scored candles and the engine's factor readings.

    The candle features need the momentum factor to be available: the same freshness rule (stale or too
    few candles) then holds for every feature read from the candles."""
    by_name = {f.name: f for f in factors}
    momentum = by_name.get(FactorName.MOMENTUM)
    out = candle_features(candles) if momentum is not None and momentum.available else dict.fromkeys(FEATURES)
    out["momentum"] = _centred_score(by_name, FactorName.MOMENTUM)
    funding = _raw(by_name, FactorName.FUNDING)  # percent per 8 h
    out["funding_bp_8h"] = None if funding is None else funding * 100.0
    crowd = _raw(by_name, FactorName.LONG_SHORT)
    out["crowd_long_tilt"] = None if crowd is None else (crowd - 50.0) / 10.0
    top = _raw(by_name, FactorName.SMART_MONEY)
    out["top_trader_long_tilt"] = None if top is None else (top - 50.0) / 10.0
    long_share = _raw(by_name, FactorName.LIQUIDATIONS)  # long share of liquidated USD, percent
    out["liquidation_imbalance"] = None if long_share is None else long_share / 50.0 - 1.0
    out["oi_change_24h_pct"] = _raw(by_name, FactorName.OI_TREND)
    out["fear_greed"] = _centred_score(by_name, FactorName.FEAR_GREED)
    if momentum is not None and momentum.available:
        out.update(structure_features(candles))
    return tuple(out[name] for name in FEATURES)


def missing_features(vector: FeatureVector) -> tuple[str, ...]:
    return tuple(name for name, value in zip(FEATURES, vector, strict=True) if value is None)
