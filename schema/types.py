"""GraphQL output types: thin, attribute-only views of the engine's results (no method resolvers on hot
fields: a resolver per field costs ~30% per STYLE.md's measurements)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info  # noqa: TC002 - strawberry reads annotations at runtime

from engine import InputName
from engine.smc import DEFAULT_SWING_BARS
from resolvers.context import RequestContext  # noqa: TC001
from resolvers.structure import DEFAULT_RECENT, resolve_signal_structure
from resolvers.ticks import resolve_tick_size
from schema.calibration import SignalCalibration
from schema.enums import (
    FactorNameEnum,
    InputNameEnum,
    ModeEnum,
    RecommendationEnum,
    TierEnum,
    TimeframeEnum,
)
from schema.judge import TradePlan, TradeVerdict, resolve_plan, resolve_plan_missing, resolve_verdict

if TYPE_CHECKING:
    from engine import DataQuality as EngineDataQuality
    from engine import FactorScore as EngineFactor
    from engine import Mode
    from engine import Signal as EngineSignal
    from engine.market import SymbolInfo, Timeframe
    from schema.structure import SmcTimeframe


def signal_id(symbol: str, timeframe: Timeframe, mode: Mode, generated_at: datetime) -> str:
    """The ``Signal.id`` rule: ``SYMBOL:timeframe:mode:epoch-ms`` of the moment it was computed. The same
    computation (e.g. served from the cache) always gets the same id; a re-computation gets a new one."""
    return f"{symbol}:{timeframe.value}:{mode.value}:{round(generated_at.timestamp() * 1000)}"


@strawberry.type(description="One of the eight factors: its score, weight and where its data came from.")
class Factor:
    name: FactorNameEnum = strawberry.field(description="Which factor.")  # type: ignore[valid-type]
    score: float | None = strawberry.field(
        description="0..100 (50 is neutral, above 50 bullish, below bearish); null when unavailable."
    )
    weight: float = strawberry.field(description="Nominal weight in percent (all eight sum to 100).")
    effective_weight: float = strawberry.field(
        description="Weight in percent after renormalizing over the available factors; 0 when unavailable."
    )
    contribution: float = strawberry.field(
        description="score × effectiveWeight / 100: its part of the signal's score, in score points."
    )
    available: bool = strawberry.field(description="Whether the factor could be scored; if not, see error.")
    source: str | None = strawberry.field(description="The upstream that answered, e.g. binance.premiumIndex.")
    raw_value: float | None = strawberry.field(
        description="The input value the score was read from; its unit is stated in detail (e.g. funding in "
        "percent per 8 h, long share in percent)."
    )
    detail: str = strawberry.field(description="Human explanation of the score, with units.")
    error: str | None = strawberry.field(description="Why the factor is unavailable; null when available.")
    failed_sources: list[str] = strawberry.field(
        description="Sources tried before the one that answered, each as source: error."
    )

    @classmethod
    def of(cls, f: EngineFactor) -> Factor:
        return cls(
            name=f.name,
            score=f.score,
            weight=f.weight,
            effective_weight=f.effective_weight,
            contribution=f.contribution,
            available=f.available,
            source=f.source,
            raw_value=f.raw_value,
            detail=f.detail,
            error=f.error,
            failed_sources=list(f.failed_sources),
        )


@strawberry.type(description="How one input fared.")
class SourceStatus:
    input: InputNameEnum = strawberry.field(description="The market input.")  # type: ignore[valid-type]
    tier: TierEnum = strawberry.field(description="How much this input counts toward data quality.")  # type: ignore[valid-type]
    source: str | None = strawberry.field(description="The upstream that answered (venue.endpoint); null if none.")
    ok: bool = strawberry.field(description="Whether a usable, fresh value was read.")
    error: str | None = strawberry.field(description="Why the input is unusable; null when ok.")
    failed: list[str] = strawberry.field(description="Sources that failed before (or instead of) the answer.")


@strawberry.type(description="Usable inputs of one tier, out of those expected.")
class TierCount:
    tier: TierEnum = strawberry.field(description="The tier counted.")  # type: ignore[valid-type]
    available: int = strawberry.field(description="Inputs of this tier that were usable.")
    expected: int = strawberry.field(description="Inputs of this tier the engine reads.")


@strawberry.type(
    description="Share of CRITICAL and IMPORTANT inputs that were usable (0..100); below 50 no signal is given."
)
class DataQuality:
    score: float = strawberry.field(description="Percent (0..100) of the weighted inputs that were usable.")
    tiers: list[TierCount] = strawberry.field(description="Usable inputs per tier.")
    missing: list[str] = strawberry.field(description="Every unusable input with the reason.")
    sources: list[SourceStatus] = strawberry.field(description="Every input with the source that answered.")

    @classmethod
    def of(cls, q: EngineDataQuality) -> DataQuality:
        return cls(
            score=q.score,
            tiers=[TierCount(tier=t.tier, available=t.available, expected=t.expected) for t in q.tiers],
            missing=list(q.missing),
            sources=[
                SourceStatus(input=s.input, tier=s.tier, source=s.source, ok=s.ok, error=s.error, failed=list(s.failed))
                for s in q.sources
            ],
        )


@strawberry.type(description="The mode's score thresholds (score points, 0..100).")
class Thresholds:
    short_max: float = strawberry.field(description="SHORT when score ≤ this.")
    long_min: float = strawberry.field(description="LONG when score ≥ this.")


@strawberry.type(
    description="An explainable LONG / SHORT / NEUTRAL call for one USDT perpetual. Not investment advice: "
    "check the factors and the data quality before acting."
)
class Signal:
    id: strawberry.ID = strawberry.field(
        description="Stable cache key: SYMBOL:timeframe:mode:epoch-ms of generatedAt (e.g. "
        "BTCUSDT:4h:aggressive:1764504000000). The same computation always has the same id; each "
        "re-computation (a new generatedAt) gets a new one."
    )
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling (BTCUSDT).")
    recommendation: RecommendationEnum = strawberry.field(  # type: ignore[valid-type]
        description="LONG, SHORT or NEUTRAL: the score against the mode's thresholds (mode CALIBRATED: "
        "calibration.probabilityUp against the model's thresholds)."
    )
    score: float = strawberry.field(description="0..100: Σ factor score × effective weight / 100; 50 is neutral.")
    confidence: float = strawberry.field(
        description="0..100: how strongly and consistently the available factors agree (see README)."
    )
    mode: ModeEnum = strawberry.field(description="The threshold set the call was made with.")  # type: ignore[valid-type]
    thresholds: Thresholds = strawberry.field(
        description="The mode's thresholds, as numbers (CALIBRATED has none on the score: AGGRESSIVE's are shown "
        "for reference; its own are calibration.longThreshold / shortThreshold)."
    )
    timeframe: TimeframeEnum = strawberry.field(description="The candle interval the factors were read on.")  # type: ignore[valid-type]
    price: float = strawberry.field(description="Last price in USDT when the signal was computed.")
    factors: list[Factor] = strawberry.field(description="All eight factors, heaviest weight first.")
    top_factors: list[Factor] = strawberry.field(description="Up to three factors pulling hardest from neutral.")
    data_quality: DataQuality = strawberry.field(description="Which inputs were usable, and where they came from.")
    generated_at: datetime = strawberry.field(description="When the signal was computed (UTC, ISO-8601).")
    probability_up: float | None = strawberry.field(
        default=None,
        description="0..1: the calibrated model's probability that a LONG beats 0.1 % fees over 24 h (see "
        "calibration); null when no model is fitted on this symbol and timeframe (BTCUSDT 4h only today).",
    )
    calibration: SignalCalibration | None = strawberry.field(
        default=None, description="The calibrated model's reading: probability, thresholds, version, missing inputs."
    )
    # the venue.endpoint that answered the price: its venue's tick is the one that fits the price
    price_source: strawberry.Private[str | None] = None

    @strawberry.field(
        description="The venue's price increment for this symbol (USDT), from the cached listing of the venue "
        "that answered the price (else the first listing source that lists one); REST rounds price to it. "
        "Null when no listing carries a tick (Hyperliquid publishes none)."
    )
    async def tick_size(self, info: Info[RequestContext, None]) -> float | None:
        return await resolve_tick_size(info.context.services.gateway, self.symbol, self.price_source)

    # the engine's signal and its plan/verdict assessment (made once, when plan or verdict is selected)
    engine_signal: strawberry.Private[Any] = None  # engine.Signal
    assessing: strawberry.Private[Any] = None

    @strawberry.field(
        description="ATR trade plan (entry, stop, take-profit, size) for a LONG or SHORT; null on NEUTRAL or "
        "when too few closed candles were served. Computed only when selected."
    )
    async def plan(self, info: Info[RequestContext, None]) -> TradePlan | None:
        return await resolve_plan(info.context, self)

    @strawberry.field(
        description="Why plan is null on a LONG or SHORT (e.g. too few closed candles for ATR14, no candles "
        "served); null when there is a plan, and on NEUTRAL (which never gets one)."
    )
    async def plan_missing(self, info: Info[RequestContext, None]) -> str | None:
        return await resolve_plan_missing(info.context, self)

    @strawberry.field(
        description="The judge's verdict (CONFIRM / DOWNSIZE / SKIP / WAIT) with its rule checks; the AI decides "
        "when OPENAI_API_KEY is set, else the rules. Null on NEUTRAL. Computed only when selected."
    )
    async def verdict(self, info: Info[RequestContext, None]) -> TradeVerdict | None:
        return await resolve_verdict(info.context, self)

    @strawberry.field(
        description="Smart Money Concepts on the signal's own timeframe (500 closed candles, swings of 2 bars, the 20 "
        "most recent items per list): structure, last BOS/CHoCH, nearest unfilled gaps and liquidity. Computed only "
        "when selected: one cached candle call."
    )
    async def structure(
        self, info: Info[RequestContext, None]
    ) -> Annotated[SmcTimeframe, strawberry.lazy("schema.structure")]:
        from schema.structure import SmcTimeframe  # here: schema.structure imports schema.errors, which imports us

        reading = await resolve_signal_structure(info.context, self.symbol, self.timeframe)
        return SmcTimeframe.of(reading, DEFAULT_SWING_BARS, DEFAULT_RECENT)

    @classmethod
    def of(cls, s: EngineSignal) -> Signal:
        factors = {f.name: Factor.of(f) for f in s.factors}
        return cls(
            id=strawberry.ID(signal_id(s.symbol, s.timeframe, s.mode, s.generated_at)),
            symbol=s.symbol,
            recommendation=s.recommendation,
            score=s.score,
            confidence=s.confidence,
            mode=s.mode,
            thresholds=Thresholds(short_max=s.thresholds.short_max, long_min=s.thresholds.long_min),
            timeframe=s.timeframe,
            price=s.price,
            factors=list(factors.values()),
            top_factors=[factors[f.name] for f in s.top_factors],
            data_quality=DataQuality.of(s.data_quality),
            generated_at=s.generated_at,
            probability_up=None if s.calibration is None else round(s.calibration.probability_up, 4),
            calibration=None if s.calibration is None else SignalCalibration.of(s.calibration),
            price_source=next((q.source for q in s.data_quality.sources if q.input is InputName.PRICE), None),
            engine_signal=s,
        )


@strawberry.type(name="Symbol", description="A tradable USDT-margined perpetual.")
class SymbolType:
    id: strawberry.ID = strawberry.field(description="Stable cache key: the symbol itself (BTCUSDT).")
    symbol: str = strawberry.field(description="Canonical spelling: base asset + USDT (BTCUSDT).")
    base_asset: str = strawberry.field(description="The coin traded (BTC).")
    quote_asset: str = strawberry.field(description="The quote and margin currency (USDT).")
    status: str = strawberry.field(description="The venue's listing status, e.g. TRADING.")
    contract_type: str = strawberry.field(description="The venue's contract type, e.g. PERPETUAL.")
    onboard_date: datetime | None = strawberry.field(description="When it was listed (UTC, ISO-8601); null if unknown.")

    @classmethod
    def of(cls, s: SymbolInfo) -> SymbolType:
        return cls(
            id=strawberry.ID(s.symbol),
            symbol=s.symbol,
            base_asset=s.base_asset,
            quote_asset=s.quote_asset,
            status=s.status,
            contract_type=s.contract_type,
            onboard_date=s.onboard_date,
        )


@strawberry.type(description="Tradable USDT perpetuals matching the search.")
class SymbolList:
    symbols: list[SymbolType] = strawberry.field(description="The symbols, alphabetically.")
    count: int = strawberry.field(description="How many symbols matched (the length of symbols).")
