"""The ``marketSummary`` resolver: the configured coins' signals in one batched, parallel round
(:func:`resolvers.signals.resolve_signals`: the all-symbol endpoints are asked once for all of them), folded
by :func:`engine.summary.summarize`, and served from memory while its inputs are fresh."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import FactorName, Signal
from engine.summary import CoinSignal, MarketSummary, summarize
from providers.symbols import InvalidSymbolFormat, parse_symbol
from resolvers.problems import InvalidArgument, Problem
from resolvers.signals import resolve_signals

if TYPE_CHECKING:
    from engine import Mode
    from engine.market import Timeframe
    from resolvers.context import RequestContext

MAX_SUMMARY_SYMBOLS = 10


def _raw(signal: Signal, name: FactorName) -> float | None:
    factor = next((f for f in signal.factors if f.name is name), None)
    return factor.raw_value if factor is not None and factor.available else None


def coin_signal(symbol: str, outcome: Signal | Problem) -> CoinSignal:
    if isinstance(outcome, Signal):
        return CoinSignal(
            symbol=outcome.symbol,
            recommendation=outcome.recommendation.value,
            score=outcome.score,
            funding_pct_8h=_raw(outcome, FactorName.FUNDING),
            liquidation_long_share_pct=_raw(outcome, FactorName.LIQUIDATIONS),
        )
    canonical = getattr(outcome, "symbol", None) or symbol.upper()
    canonical = canonical if canonical.endswith("USDT") else f"{canonical}USDT"
    return CoinSignal(canonical, None, None, None, None, problem=f"{outcome.code}: {outcome.message}")


async def resolve_market_summary(
    ctx: RequestContext, mode: Mode, timeframe: Timeframe, symbols: list[str] | None = None
) -> tuple[MarketSummary, tuple[Signal, ...]] | InvalidArgument:
    """The summary and the signals behind it (the same objects the ``signals`` field answers)."""
    given = tuple(symbols) if symbols else ctx.services.discovery.config.summary_symbols
    if not 1 <= len(given) <= MAX_SUMMARY_SYMBOLS:
        return InvalidArgument("symbols", f"give 1 to {MAX_SUMMARY_SYMBOLS} symbols, not {len(given)}")
    distinct = _distinct(given)
    if isinstance(distinct, InvalidArgument):
        return distinct
    wanted = tuple(distinct.values())

    async def build() -> tuple[MarketSummary, tuple[Signal, ...]] | InvalidArgument:
        outcomes = await resolve_signals(ctx, list(wanted), mode, timeframe)
        if len(outcomes) == 1 and isinstance(outcomes[0], InvalidArgument) and len(wanted) != 1:
            return outcomes[0]
        coins = [coin_signal(s, o) for s, o in zip(wanted, outcomes, strict=True)]
        return summarize(coins), tuple(o for o in outcomes if isinstance(o, Signal))

    key = (tuple(distinct), mode, timeframe)
    result = await ctx.services.discovery.summaries.get(key, build, keep=_worth_keeping)
    return result  # type: ignore[return-value]


def _distinct(symbols: tuple[str, ...]) -> dict[str, str] | InvalidArgument:
    """Each coin once by its canonical symbol, with the spelling first given, in order: "BTC", "btcusdt" and
    "BTC-USDT" are one coin and count once in the overall word. A malformed symbol is an input error, not a
    coin without a signal (a well-formed one no venue lists stays a coin with its problem)."""
    distinct: dict[str, str] = {}
    for symbol in symbols:
        try:
            canonical = parse_symbol(symbol).canonical
        except InvalidSymbolFormat as exc:
            return InvalidArgument("symbols", str(exc))
        distinct.setdefault(canonical, symbol)
    return distinct


def _worth_keeping(value: object) -> bool:
    """Only a summary whose every coin answered is cached: a gap is retried on the next request."""
    if not isinstance(value, tuple):
        return False
    summary = value[0]
    return isinstance(summary, MarketSummary) and all(c.recommendation is not None for c in summary.coins)
