"""MSS, social hype, the watchlist and the market summary in GraphQL: ``mss``, ``mssScan``, ``socialHype``,
``watchlist``, ``marketSummary`` and the ``watchlistAdd`` / ``watchlistRemove`` mutations.

Every missing input is a value with its reason (``error``), never a zero: an unavailable phase has null
``points`` and ``passes``, and ``tier`` is null while the missing inputs could still change it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info  # noqa: TC002

from engine import DEFAULT_MODE, Mode
from engine.hype import Divergence
from engine.market import Timeframe
from engine.mss import Band, MssTier
from engine.screener import ScreenKind
from engine.summary import Overall
from resolvers.context import RequestContext  # noqa: TC001
from resolvers.hype import resolve_hype
from resolvers.mss import resolve_mss, resolve_mss_scan
from resolvers.problems import Problem
from resolvers.summary import resolve_market_summary
from resolvers.watchlist import (
    ANONYMOUS_OWNER,
    MAX_HISTORY_POINTS,
    MAX_PER_OWNER,
    WatchlistRefused,
    WatchlistUnavailable,
    watchlist_add,
    watchlist_remove,
)
from resolvers.watchlist import watchlist as resolve_watchlist
from schema.enums import ModeEnum, TimeframeEnum, described
from schema.errors import InvalidInput, SymbolNotFound, UpstreamUnavailable, problem
from schema.errors import Problem as ProblemType
from schema.history import HistoryUnavailable, history_unavailable
from schema.universe import ScreenerKindEnum  # noqa: TC001 - strawberry reads the annotation at runtime

if TYPE_CHECKING:
    from engine.hype import HypeComponent, HypeReport
    from engine.mss import MssInput, MssReport, PhaseScore
    from engine.summary import MarketSummary as EngineSummary
    from resolvers.mss import MssScan as EngineScan
    from resolvers.watchlist import MssPoint, WatchEntry

BandEnum = described(
    Band,
    "MssBand",
    "The MSS band of the total: STRONG_LONG ≥ 75, LONG ≥ 65, MODERATE_LONG ≥ 50, WEAK_LONG ≥ 35, else NEUTRAL.",
    {
        Band.STRONG_LONG: "Total 75 or more.",
        Band.LONG: "Total 65 to 74.99.",
        Band.MODERATE_LONG: "Total 50 to 64.99.",
        Band.WEAK_LONG: "Total 35 to 49.99.",
        Band.NEUTRAL: "Total below 35.",
    },
)
TierEnum = described(
    MssTier,
    "MssTier",
    "The MSS tier of the total: DIAMOND ≥ 80, GOLD ≥ 65, SILVER ≥ 50, else BRONZE.",
    {
        MssTier.DIAMOND: "Total 80 or more.",
        MssTier.GOLD: "Total 65 to 79.99.",
        MssTier.SILVER: "Total 50 to 64.99.",
        MssTier.BRONZE: "Total below 50.",
    },
)
DivergenceEnum = described(
    Divergence,
    "HypeDivergence",
    "How the coin's hype and its price moved against each other.",
    {
        Divergence.HYPE_RISING_PRICE_FLAT: "Hype up 10 points or more while the price moved less than 2 % in 24 h.",
        Divergence.HYPE_RISING_PRICE_FALLING: "Hype up 10 points or more while the price fell 2 % or more.",
        Divergence.PRICE_RISING_HYPE_FADING: "Price up 2 % or more while hype fell 10 points or more.",
        Divergence.ALIGNED: "No disagreement between hype and price.",
    },
)
OverallEnum = described(
    Overall,
    "MarketOverall",
    "The market's overall direction over the summary's coins.",
    {
        Overall.BULLISH: "LONG on at least 60 % of the coins with a signal, SHORT on at most 20 %.",
        Overall.BEARISH: "SHORT on at least 60 % of the coins with a signal, LONG on at most 20 %.",
        Overall.NEUTRAL: "Mostly NEUTRAL signals.",
        Overall.MIXED: "Both LONG and SHORT signals, neither side a majority as above.",
    },
)


# -- MSS ------------------------------------------------------------------------------------------------


@strawberry.type(description="One MSS input: its value and source and its points, or why it is missing.")
class MssInputValue:
    name: str = strawberry.field(description="Input name: fdv, age, circulating_share, alt_rank, galaxy_score, ...")
    unit: str = strawberry.field(description="Unit of value (USD, hours, % of supply, rank, % per 8 h, ...).")
    value: float | None = strawberry.field(description="The measured value; null when missing.")
    source: str | None = strawberry.field(description="Who answered (venue.endpoint), or the last source tried.")
    points: float | None = strawberry.field(description="Points from the predecessor's table; null when missing.")
    max_points: float = strawberry.field(description="The most this input can score.")
    bonus: bool = strawberry.field(description="True for the whale bonus: not required for the phase.")
    error: str | None = strawberry.field(description="Why the input is missing; null when measured.")

    @classmethod
    def of(cls, i: MssInput) -> MssInputValue:
        return cls(
            name=i.name,
            unit=i.unit,
            value=i.value,
            source=i.source,
            points=i.points,
            max_points=i.max_points,
            bonus=i.bonus,
            error=i.error,
        )


@strawberry.type(name="MssPhase", description="One MSS phase: the sum of its inputs' points, or unavailable.")
class MssPhase:
    name: str = strawberry.field(description="discovery, social or institutional.")
    points: float | None = strawberry.field(description="Sum of the inputs' points; null when unavailable.")
    max_points: float = strawberry.field(description="The phase's maximum: 35, 30 or 35.")
    pass_points: float = strawberry.field(description="Points needed to pass: 20, 18 or 20.")
    available: bool = strawberry.field(description="False when a required input is missing (never scored as 0).")
    passes: bool | None = strawberry.field(description="Whether points reach passPoints; null when unavailable.")
    missing: list[str] = strawberry.field(description="Each missing input as name: reason.")
    inputs: list[MssInputValue] = strawberry.field(description="Every input of the phase, measured or not.")

    @classmethod
    def of(cls, p: PhaseScore) -> MssPhase:
        return cls(
            name=p.phase.value,
            points=p.points,
            max_points=p.max_points,
            pass_points=p.pass_at,
            available=p.available,
            passes=p.passes,
            missing=list(p.missing),
            inputs=[MssInputValue.of(i) for i in p.inputs],
        )


@strawberry.type(
    name="MSSReport",
    description="Multi-modal Signal Score: discovery (0..35) + social (0..30) + institutional (0..35) = 0..100.",
)
class MSSReport:
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling (BTCUSDT).")
    total: float = strawberry.field(description="Points of the available phases (see measurableMax).")
    measurable_max: float = strawberry.field(description="The most total could be: the available phases' maxima.")
    total_low: float = strawberry.field(description="The full 0..100 score if every missing input scored its least.")
    total_high: float = strawberry.field(description="The full 0..100 score if every missing input scored its most.")
    complete: bool = strawberry.field(description="True when every input, the whale bonus included, was measured.")
    band: BandEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The band; null while the missing inputs could change it (see totalLow..totalHigh)."
    )
    tier: TierEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The tier; null while the missing inputs could change it (see totalLow..totalHigh)."
    )
    phases: list[MssPhase] = strawberry.field(description="discovery, social, institutional, in that order.")
    missing: list[str] = strawberry.field(description="Every missing input as name: reason.")
    failures: list[str] = strawberry.field(description="Sources that failed before another answered, or at all.")
    generated_at: datetime = strawberry.field(description="When the report was computed (UTC, ISO-8601).")
    categories: list[str] | None = strawberry.field(
        description="CoinGecko's categories of the coin (Layer 1 (L1), DeFi...) from the coins/{id} answer the "
        "discovery phase reads; not scored. Null when that answer was not read (an mssScan row uses the "
        "coins/markets row instead, which has none) or failed."
    )

    @classmethod
    def of(cls, r: MssReport, failures: tuple[str, ...], at: datetime) -> MSSReport:
        return cls(
            symbol=r.symbol,
            total=r.total,
            measurable_max=r.measurable_max,
            total_low=r.total_low,
            total_high=r.total_high,
            complete=r.complete,
            band=r.band,
            tier=r.tier,
            phases=[MssPhase.of(p) for p in r.phases],
            missing=list(r.missing),
            failures=list(failures),
            generated_at=at,
            categories=list(r.categories) if r.categories is not None else None,
        )


MssResult = Annotated[
    MSSReport | InvalidInput | SymbolNotFound,
    strawberry.union("MssResult", description="An MSS report, or why there is none."),
]


@strawberry.type(description="A scanned coin (a new listing or a screener row) and its MSS report.")
class MssScanItem:
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling.")
    venue: str = strawberry.field(description="The venue of its newest listing, or the screener row's price venue.")
    listed_at: datetime | None = strawberry.field(
        description="When that venue listed it (UTC, ISO-8601); null for a screener row (see the age input)."
    )
    age_hours: float | None = strawberry.field(description="Hours since listing, by the service clock; null: unknown.")
    origin: str = strawberry.field(description="Why it was scanned: new listing on <venue>, or screener <kind> #rank.")
    report: MSSReport = strawberry.field(description="Its MSS report.")


@strawberry.type(description="New listings scored by MSS, best total first, with what was left out and why.")
class MssScan:
    items: list[MssScanItem] = strawberry.field(description="Scored coins, best total first.")
    candidates: int = strawberry.field(
        description="Candidates found: new listings in the window (one per symbol), or the screener's rows."
    )
    skipped: list[str] = strawberry.field(description="Each candidate left out, as symbol: reason.")
    failures: list[str] = strawberry.field(description="Sources that failed during the scan.")
    coingecko_calls: int = strawberry.field(description="CoinGecko calls this scan was allowed (its budget).")
    lunarcrush_calls: int = strawberry.field(description="LunarCrush calls this scan was allowed (its budget).")
    within_hours: float = strawberry.field(description="The listing window asked for, hours.")
    max_fdv_usd: float | None = strawberry.field(description="The FDV ceiling asked for, USD; null: none.")

    @classmethod
    def of(cls, s: EngineScan, at: datetime) -> MssScan:
        return cls(
            items=[
                MssScanItem(
                    symbol=i.symbol,
                    venue=i.venue,
                    listed_at=i.listed_at,
                    age_hours=None if i.age_hours is None else round(i.age_hours, 2),
                    origin=i.origin,
                    report=MSSReport.of(i.report, (), at),
                )
                for i in s.items
            ],
            candidates=s.candidates,
            skipped=list(s.skipped),
            failures=list(s.failures),
            coingecko_calls=s.coingecko_calls,
            lunarcrush_calls=s.lunarcrush_calls,
            within_hours=s.within_hours,
            max_fdv_usd=s.max_fdv_usd,
        )


MssScanResult = Annotated[
    MssScan | InvalidInput | UpstreamUnavailable,
    strawberry.union("MssScanResult", description="A scan of new listings, or why there is none."),
]

# -- social hype ----------------------------------------------------------------------------------------

HYPE_KEY_ADDS = (
    "Keyless, hype rests on CoinGecko's trending list; LUNARCRUSH_API_KEY adds the Galaxy Score and AltRank "
    "to the score, and sentiment and social volume beside it."
)


@strawberry.type(description="One measure of attention: its raw value, its 0..100 score and weight, or why missing.")
class HypeComponentType:
    name: str = strawberry.field(description="trending, galaxy_score, alt_rank, or a context number's name.")
    raw_value: float | None = strawberry.field(description="The value as the source gives it.")
    score: float | None = strawberry.field(description="Its 0..100 score; null for context numbers and missing ones.")
    weight: float = strawberry.field(description="Its weight in the hype score (0 for context numbers).")
    source: str | None = strawberry.field(description="Who answered (venue.endpoint).")
    error: str | None = strawberry.field(description="Why it is missing; null when read.")

    @classmethod
    def of(cls, c: HypeComponent) -> HypeComponentType:
        return cls(name=c.name, raw_value=c.raw_value, score=c.score, weight=c.weight, source=c.source, error=c.error)


@strawberry.type(description="Social hype of a coin: a 0..100 score, a spike flag and hype-versus-price divergence.")
class SocialHype:
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling.")
    score: float | None = strawberry.field(description="Weighted mean of the components read; null when none was.")
    components: list[HypeComponentType] = strawberry.field(description="The scored components, read or missing.")
    context: list[HypeComponentType] = strawberry.field(description="Sentiment and community numbers, not scored.")
    spike: bool | None = strawberry.field(
        description="Score ≥ 2σ and 10 points over its own history; null: too little."
    )
    spike_detail: str = strawberry.field(description="The comparison behind spike.")
    history_points: int = strawberry.field(description="Earlier readings of this coin kept by this server.")
    hype_change: float | None = strawberry.field(description="Score change since the oldest kept reading.")
    hype_change_hours: float | None = strawberry.field(
        description="The hours hypeChange covers: from the oldest kept reading to now (the price change covers 24 h)."
    )
    price_change_24h_pct: float | None = strawberry.field(description="24 h price change, percent.")
    divergence: DivergenceEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="Hype against price; null without an earlier reading or a price change."
    )
    divergence_detail: str = strawberry.field(description="The numbers behind divergence.")
    missing: list[str] = strawberry.field(description="Each missing component as name: reason.")
    key_adds: str = strawberry.field(description="What a LunarCrush key adds.")

    @classmethod
    def of(cls, h: HypeReport) -> SocialHype:
        return cls(
            symbol=h.symbol,
            score=h.score,
            components=[HypeComponentType.of(c) for c in h.components],
            context=[HypeComponentType.of(c) for c in h.context],
            spike=h.spike,
            spike_detail=h.spike_detail,
            history_points=h.history_points,
            hype_change=h.hype_change,
            hype_change_hours=h.hype_change_hours,
            price_change_24h_pct=h.price_change_24h_pct,
            divergence=h.divergence,
            divergence_detail=h.divergence_detail,
            missing=list(h.missing),
            key_adds=HYPE_KEY_ADDS,
        )


SocialHypeResult = Annotated[
    SocialHype | InvalidInput | SymbolNotFound,
    strawberry.union("SocialHypeResult", description="Social hype, or why there is none."),
]

# -- market summary -------------------------------------------------------------------------------------


@strawberry.type(description="One coin of the market summary: its signal, or why it has none.")
class SummaryCoin:
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling.")
    recommendation: str | None = strawberry.field(description="LONG, SHORT or NEUTRAL; null without a signal.")
    score: float | None = strawberry.field(description="The signal's score 0..100.")
    funding_pct_8h: float | None = strawberry.field(description="Funding, percent per 8 h (the signal's input).")
    liquidation_long_share_pct: float | None = strawberry.field(
        description="Share of 24 h liquidated value that was longs, percent."
    )
    problem: str | None = strawberry.field(description="Why there is no signal (code: message).")


@strawberry.type(description="The market in one word over the leading coins, the numbers behind it, in EN and ID.")
class MarketSummary:
    overall: OverallEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="BULLISH, BEARISH, NEUTRAL or MIXED; null when fewer than 3 coins have a signal."
    )
    coins: list[SummaryCoin] = strawberry.field(description="Each coin's signal, in the order asked.")
    longs: int = strawberry.field(description="Coins with a LONG signal.")
    shorts: int = strawberry.field(description="Coins with a SHORT signal.")
    neutrals: int = strawberry.field(description="Coins with a NEUTRAL signal.")
    average_score: float | None = strawberry.field(description="Mean signal score of the coins with a signal.")
    average_funding_pct_8h: float | None = strawberry.field(description="Mean funding, percent per 8 h.")
    funding_coins: int = strawberry.field(description="Coins the average funding is over.")
    liquidation_long_share_pct: float | None = strawberry.field(
        description="Mean share of liquidated value that was longs, percent (over 50: longs flushed)."
    )
    liquidation_coins: int = strawberry.field(description="Coins the liquidation balance is over.")
    explanation_en: str = strawberry.field(description="The summary in English, from the numbers.")
    explanation_id: str = strawberry.field(description="The summary in Indonesian (Bahasa Indonesia), same numbers.")
    generated_at: datetime = strawberry.field(description="When the newest signal behind it was computed (UTC).")

    @classmethod
    def of(cls, s: EngineSummary, at: datetime) -> MarketSummary:
        return cls(
            overall=s.overall,
            coins=[
                SummaryCoin(
                    symbol=c.symbol,
                    recommendation=c.recommendation,
                    score=c.score,
                    funding_pct_8h=c.funding_pct_8h,
                    liquidation_long_share_pct=c.liquidation_long_share_pct,
                    problem=c.problem,
                )
                for c in s.coins
            ],
            longs=s.longs,
            shorts=s.shorts,
            neutrals=s.neutrals,
            average_score=s.average_score,
            average_funding_pct_8h=s.average_funding_pct_8h,
            funding_coins=s.funding_coins,
            liquidation_long_share_pct=s.liquidation_long_share_pct,
            liquidation_coins=s.liquidation_coins,
            explanation_en=s.explanation_en,
            explanation_id=s.explanation_id,
            generated_at=at,
        )


MarketSummaryResult = Annotated[
    MarketSummary | InvalidInput,
    strawberry.union("MarketSummaryResult", description="The market summary, or why there is none."),
]

# -- watchlist ------------------------------------------------------------------------------------------


@strawberry.type(description="One stored MSS measurement of a watched coin.")
class MssHistoryPoint:
    measured_at: datetime = strawberry.field(description="When it was measured (UTC, ISO-8601).")
    total: float = strawberry.field(description="Points of the available phases.")
    measurable_max: float = strawberry.field(description="The most total could have been.")
    total_low: float = strawberry.field(description="The full score's least possible value.")
    total_high: float = strawberry.field(description="The full score's greatest possible value.")
    tier: str | None = strawberry.field(description="The tier when certain, else null.")
    phases: JSON = strawberry.field(
        description="The phases as stored: [{name, points, maxPoints, available, passes, missing}]."
    )

    @classmethod
    def of(cls, p: MssPoint) -> MssHistoryPoint:
        return cls(
            measured_at=p.measured_at,
            total=p.total,
            measurable_max=p.measurable_max,
            total_low=p.total_low,
            total_high=p.total_high,
            tier=p.tier,
            phases=JSON(list(p.phases)),
        )


@strawberry.type(description="A watched coin and its MSS history since its owner added it, newest first.")
class WatchlistEntry:
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling.")
    owner: str | None = strawberry.field(
        description="The API key id whose list it is on; null: the anonymous callers' shared list."
    )
    note: str | None = strawberry.field(description="The note given when it was added.")
    added_at: datetime = strawberry.field(description="When it was first added to this list (UTC, ISO-8601).")
    history: list[MssHistoryPoint] = strawberry.field(
        description="Its newest MSS measurements since addedAt, newest first (one series per coin, kept while "
        "anyone watches it)."
    )

    @classmethod
    def of(cls, e: WatchEntry, history: tuple[MssPoint, ...] = ()) -> WatchlistEntry:
        return cls(
            symbol=e.symbol,
            owner=e.owner,
            note=e.note,
            added_at=e.added_at,
            history=[MssHistoryPoint.of(p) for p in history],
        )


@strawberry.type(description="Your watchlist (every owner's for an admin key): watched coins with their MSS history.")
class Watchlist:
    entries: list[WatchlistEntry] = strawberry.field(description="Watched coins by owner, oldest first.")
    truncated: bool = strawberry.field(
        description="True when an admin's view of every owner's entries stopped at its 500-entry bound."
    )


@strawberry.type(description="A coin removed from a watchlist (its MSS history goes when nobody watches it).")
class WatchlistRemoved:
    symbol: str = strawberry.field(description="The coin, canonical spelling.")
    owner: str | None = strawberry.field(description="Whose list: an API key id; null: the anonymous list.")
    removed: bool = strawberry.field(description="False when it was not on that list.")


@strawberry.type(
    description="A watchlist operation was refused: WATCHLIST_NEEDS_A_KEY (anonymous callers on a public address), "
    f"WATCHLIST_FULL (at most {MAX_PER_OWNER} coins per owner), WATCHLIST_NOT_YOURS (owner names another "
    "owner's list without an admin key)."
)
class WatchlistRefusedProblem(ProblemType):
    field: str | None = strawberry.field(description="The argument at fault; null when none is.")


WatchlistResult = Annotated[
    Watchlist | InvalidInput | HistoryUnavailable | WatchlistRefusedProblem,
    strawberry.union("WatchlistResult", description="The watchlist, or why it cannot be read."),
]
WatchlistEntryResult = Annotated[
    WatchlistEntry | InvalidInput | SymbolNotFound | HistoryUnavailable | WatchlistRefusedProblem,
    strawberry.union("WatchlistEntryResult", description="The watched coin, or why it was not added."),
]
WatchlistRemoveResult = Annotated[
    WatchlistRemoved | InvalidInput | HistoryUnavailable | WatchlistRefusedProblem,
    strawberry.union("WatchlistRemoveResult", description="The removal, or why it could not be made."),
]
OwnerArg = Annotated[
    str | None,
    strawberry.argument(
        description=f"Admin keys only: whose list to change, an API key id or {ANONYMOUS_OWNER!r} (the anonymous "
        "callers' list); null: your own."
    ),
]

SymbolArg = Annotated[
    str, strawberry.argument(description="A USDT perpetual in any usual spelling: BTC, BTCUSDT, btc-usdt.")
]


@strawberry.type
class MssQuery:
    @strawberry.field(description="The Multi-modal Signal Score of one coin: three phases, each input with its source.")
    async def mss(self, info: Info[RequestContext, None], symbol: SymbolArg) -> MssResult:
        result = await resolve_mss(info.context, symbol)
        if isinstance(result, Problem):
            return problem(result)
        report, failures = result
        return MSSReport.of(report, failures, info.context.services.gateway.now())

    @strawberry.field(description="New listings (or a screener's rows) scored by MSS with a bounded upstream budget.")
    async def mss_scan(
        self,
        info: Info[RequestContext, None],
        limit: Annotated[int, strawberry.argument(description="How many coins to score, 1..20 by default.")] = 10,
        max_fdv_usd: Annotated[
            float | None,
            strawberry.argument(description="Leave out coins whose FDV is known to be above this, USD; null: none."),
        ] = None,
        within_hours: Annotated[
            float, strawberry.argument(description="Listed within this many hours (default 72, at most 720).")
        ] = 72.0,
        screen: Annotated[
            ScreenerKindEnum | None,  # type: ignore[valid-type]
            strawberry.argument(
                description="Scan a screener's top rows (GAINERS, VOLUME, ...) instead of new listings; null: listings."
            ),
        ] = None,
    ) -> MssScanResult:
        kind = None if screen is None else ScreenKind(screen)
        result = await resolve_mss_scan(info.context, limit, max_fdv_usd, within_hours, kind)
        if isinstance(result, Problem):
            return problem(result)
        return MssScan.of(result, info.context.services.gateway.now())

    @strawberry.field(description="Social hype of one coin: score, spike against its own history, divergence.")
    async def social_hype(self, info: Info[RequestContext, None], symbol: SymbolArg) -> SocialHypeResult:
        result = await resolve_hype(info.context, symbol)
        return problem(result) if isinstance(result, Problem) else SocialHype.of(result)

    @strawberry.field(description="The market in one word over BTC, ETH, SOL, XRP, BNB (configurable), EN and ID.")
    async def market_summary(
        self,
        info: Info[RequestContext, None],
        mode: Annotated[
            ModeEnum,  # type: ignore[valid-type]
            strawberry.argument(description="Threshold set: CONSERVATIVE, AGGRESSIVE (default) or ULTRA."),
        ] = DEFAULT_MODE,
        timeframe: Annotated[
            TimeframeEnum,  # type: ignore[valid-type]
            strawberry.argument(description="Candle interval of the signals: M15, H1, H4 (default) or D1."),
        ] = Timeframe.H4,
        symbols: Annotated[
            list[str] | None,
            strawberry.argument(
                description="Coins to summarize, 1..10; null: the server's list (MARKET_SUMMARY_SYMBOLS)."
            ),
        ] = None,
    ) -> MarketSummaryResult:
        result = await resolve_market_summary(info.context, Mode(mode), Timeframe(timeframe), symbols)
        if isinstance(result, Problem):
            return problem(result)
        summary, signals = result
        at = max((s.generated_at for s in signals), default=info.context.services.gateway.now())
        return MarketSummary.of(summary, at)

    @strawberry.field(
        description="Your watchlist (every owner's for an admin key): each coin with its newest MSS measurements."
    )
    async def watchlist(
        self,
        info: Info[RequestContext, None],
        history_points: Annotated[
            int, strawberry.argument(description=f"MSS measurements per coin, newest first: 0..{MAX_HISTORY_POINTS}.")
        ] = 10,
    ) -> WatchlistResult:
        result = await resolve_watchlist(info.context, history_points)
        if isinstance(result, Problem):
            return _problem(result)  # type: ignore[return-value]
        return Watchlist(
            entries=[WatchlistEntry.of(c.entry, c.history) for c in result.coins], truncated=result.truncated
        )


def _problem(p: Problem) -> InvalidInput | SymbolNotFound | HistoryUnavailable | WatchlistRefusedProblem:
    """The union member of a watchlist problem (the shared ``problem`` plus the watchlist's own)."""
    if isinstance(p, WatchlistUnavailable):
        return history_unavailable(p.message)
    if isinstance(p, WatchlistRefused):
        return WatchlistRefusedProblem(code=p.code, message=p.message, field=p.field)
    return problem(p)  # type: ignore[call-overload,no-any-return]


@strawberry.type
class WatchlistMutation:
    @strawberry.mutation(
        description=f"Watch a coin on your list (at most {MAX_PER_OWNER}): each MSS computed for it joins its history."
    )
    async def watchlist_add(
        self,
        info: Info[RequestContext, None],
        symbol: SymbolArg,
        note: Annotated[
            str | None, strawberry.argument(description="A short note to keep with it (at most 200 characters).")
        ] = None,
        owner: OwnerArg = None,
    ) -> WatchlistEntryResult:
        result = await watchlist_add(info.context, symbol, note, owner)
        if isinstance(result, Problem):
            return _problem(result)
        return WatchlistEntry.of(result.entry, result.history)

    @strawberry.mutation(description="Stop watching a coin; its MSS history is deleted when nobody else watches it.")
    async def watchlist_remove(
        self, info: Info[RequestContext, None], symbol: SymbolArg, owner: OwnerArg = None
    ) -> WatchlistRemoveResult:
        result = await watchlist_remove(info.context, symbol, owner)
        if isinstance(result, Problem):
            return _problem(result)  # type: ignore[return-value]
        return WatchlistRemoved(symbol=result[0], owner=result[1], removed=result[2])
