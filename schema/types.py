"""GraphQL output types: thin, attribute-only views of the engine's results (no method resolvers on hot
fields: a resolver per field costs ~30% per STYLE.md's measurements)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from engine import DataQuality as EngineDataQuality
from engine import FactorName, InputName, Mode, Recommendation, Tier
from engine import FactorScore as EngineFactor
from engine import Signal as EngineSignal
from engine.market import SymbolInfo, Timeframe

RecommendationEnum = strawberry.enum(Recommendation, name="Recommendation", description="What the score says.")
ModeEnum = strawberry.enum(
    Mode,
    name="Mode",
    description="Threshold set: CONSERVATIVE (LONG ≥ 60, SHORT ≤ 40), AGGRESSIVE (55/45, default), ULTRA (52/48).",
)
TimeframeEnum = strawberry.enum(
    Timeframe, name="Timeframe", description="Candle interval and ratio/OI period: M15, H1, H4 (default), D1."
)
FactorNameEnum = strawberry.enum(FactorName, name="FactorName")
TierEnum = strawberry.enum(Tier, name="Tier", description="How much an input matters to data quality.")
InputNameEnum = strawberry.enum(InputName, name="InputName")


@strawberry.type(description="One of the eight factors: its score, weight and where its data came from.")
class Factor:
    name: FactorNameEnum  # type: ignore[valid-type]
    score: float | None = strawberry.field(description="0..100 (50 is neutral); null when unavailable.")
    weight: float = strawberry.field(description="Nominal weight in percent (all eight sum to 100).")
    effective_weight: float = strawberry.field(
        description="Weight after renormalizing over the available factors; 0 when unavailable."
    )
    contribution: float = strawberry.field(description="score × effectiveWeight / 100: its part of the score.")
    available: bool
    source: str | None = strawberry.field(description="The upstream that answered, e.g. binance.premiumIndex.")
    raw_value: float | None = strawberry.field(description="The input value the score was read from.")
    detail: str = strawberry.field(description="Human explanation with units.")
    error: str | None = strawberry.field(description="Why the factor is unavailable.")
    failed_sources: list[str] = strawberry.field(description="Sources tried before the one that answered.")

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
    input: InputNameEnum  # type: ignore[valid-type]
    tier: TierEnum  # type: ignore[valid-type]
    source: str | None
    ok: bool
    error: str | None
    failed: list[str]


@strawberry.type
class TierCount:
    tier: TierEnum  # type: ignore[valid-type]
    available: int
    expected: int


@strawberry.type(
    description="Share of CRITICAL and IMPORTANT inputs that were usable (0..100); below 50 no signal is given."
)
class DataQuality:
    score: float
    tiers: list[TierCount]
    missing: list[str] = strawberry.field(description="Every unusable input with the reason.")
    sources: list[SourceStatus]

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


@strawberry.type
class Thresholds:
    short_max: float = strawberry.field(description="SHORT when score ≤ this.")
    long_min: float = strawberry.field(description="LONG when score ≥ this.")


@strawberry.type(description="An explainable LONG / SHORT / NEUTRAL call for one USDT perpetual.")
class Signal:
    symbol: str
    recommendation: RecommendationEnum  # type: ignore[valid-type]
    score: float = strawberry.field(description="0..100: Σ factor score × effective weight / 100.")
    confidence: float = strawberry.field(
        description="0..100: how strongly and consistently the available factors agree (see README)."
    )
    mode: ModeEnum  # type: ignore[valid-type]
    thresholds: Thresholds
    timeframe: TimeframeEnum  # type: ignore[valid-type]
    price: float
    factors: list[Factor] = strawberry.field(description="All eight factors, heaviest weight first.")
    top_factors: list[Factor] = strawberry.field(description="Up to three factors pulling hardest from neutral.")
    data_quality: DataQuality
    generated_at: datetime

    @classmethod
    def of(cls, s: EngineSignal) -> Signal:
        factors = {f.name: Factor.of(f) for f in s.factors}
        return cls(
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
        )


@strawberry.type(name="Symbol", description="A tradable USDT-margined perpetual.")
class SymbolType:
    symbol: str
    base_asset: str
    quote_asset: str
    status: str
    contract_type: str
    onboard_date: datetime | None

    @classmethod
    def of(cls, s: SymbolInfo) -> SymbolType:
        return cls(
            symbol=s.symbol,
            base_asset=s.base_asset,
            quote_asset=s.quote_asset,
            status=s.status,
            contract_type=s.contract_type,
            onboard_date=s.onboard_date,
        )


@strawberry.type
class SymbolList:
    symbols: list[SymbolType]
    count: int
