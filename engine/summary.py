"""The market summary: a handful of leading coins' signals folded into one word, with the numbers behind it
and an explanation in English and Indonesian written from templates over those numbers (no model).

Overall, over the coins that have a signal (``n``; at least :data:`MIN_ANSWERED`):

    BULLISH   LONG on at least 60 % of them and SHORT on at most 20 %
    BEARISH   SHORT on at least 60 % and LONG on at most 20 %
    MIXED     both LONG and SHORT present, neither side reaching the above
    NEUTRAL   otherwise (mostly NEUTRAL signals)

Average funding is the mean of the coins' funding in percent per 8 h; the liquidation balance is the mean
share of liquidated value that was longs (over 50 %: longs were flushed). Each says over how many coins.
"""

from __future__ import annotations

import enum
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

MIN_ANSWERED = 3
MAJORITY = 0.6
MINORITY = 0.2


class Overall(enum.Enum):
    BULLISH = "BULLISH"
    BEARISH = "BEARISH"
    NEUTRAL = "NEUTRAL"
    MIXED = "MIXED"


@dataclass(frozen=True, slots=True)
class CoinSignal:
    """One coin's part: its signal's recommendation and score, or why it has none."""

    symbol: str
    recommendation: str | None  # LONG / SHORT / NEUTRAL
    score: float | None
    funding_pct_8h: float | None
    liquidation_long_share_pct: float | None
    problem: str | None = None

    @property
    def base(self) -> str:
        return self.symbol.removesuffix("USDT")


@dataclass(frozen=True, slots=True)
class MarketSummary:
    overall: Overall | None  # None when fewer than MIN_ANSWERED coins have a signal
    coins: tuple[CoinSignal, ...]
    longs: int
    shorts: int
    neutrals: int
    average_score: float | None
    average_funding_pct_8h: float | None
    funding_coins: int
    liquidation_long_share_pct: float | None
    liquidation_coins: int
    explanation_en: str
    explanation_id: str

    @property
    def answered(self) -> int:
        return self.longs + self.shorts + self.neutrals


def overall_of(longs: int, shorts: int, neutrals: int) -> Overall | None:
    n = longs + shorts + neutrals
    if n < MIN_ANSWERED:
        return None
    if longs >= MAJORITY * n and shorts <= MINORITY * n:
        return Overall.BULLISH
    if shorts >= MAJORITY * n and longs <= MINORITY * n:
        return Overall.BEARISH
    if longs and shorts:
        return Overall.MIXED
    return Overall.NEUTRAL


def _mean(values: Sequence[float | None]) -> tuple[float | None, int]:
    present = [v for v in values if v is not None]
    return (statistics.fmean(present) if present else None), len(present)


def summarize(coins: Sequence[CoinSignal]) -> MarketSummary:
    answered = [c for c in coins if c.recommendation is not None]
    longs = sum(c.recommendation == "LONG" for c in answered)
    shorts = sum(c.recommendation == "SHORT" for c in answered)
    neutrals = len(answered) - longs - shorts
    overall = overall_of(longs, shorts, neutrals)
    score, _ = _mean([c.score for c in answered])
    funding, funding_n = _mean([c.funding_pct_8h for c in coins])
    liquidation, liquidation_n = _mean([c.liquidation_long_share_pct for c in coins])
    facts = _Facts(tuple(coins), overall, score, funding, funding_n, liquidation, liquidation_n)
    return MarketSummary(
        overall=overall,
        coins=tuple(coins),
        longs=longs,
        shorts=shorts,
        neutrals=neutrals,
        average_score=None if score is None else round(score, 2),
        average_funding_pct_8h=funding,
        funding_coins=funding_n,
        liquidation_long_share_pct=None if liquidation is None else round(liquidation, 1),
        liquidation_coins=liquidation_n,
        explanation_en=english(facts),
        explanation_id=indonesian(facts),
    )


@dataclass(frozen=True, slots=True)
class _Facts:
    coins: tuple[CoinSignal, ...]
    overall: Overall | None
    score: float | None
    funding: float | None
    funding_n: int
    liquidation: float | None
    liquidation_n: int

    def names(self, recommendation: str) -> list[str]:
        return [c.base for c in self.coins if c.recommendation == recommendation]

    @property
    def unanswered(self) -> list[CoinSignal]:
        return [c for c in self.coins if c.recommendation is None]


def _num_id(value: float, digits: int) -> str:
    """Indonesian number formatting: comma decimals, dot thousands."""
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\u0000").replace(".", ",").replace("\u0000", ".")


def _signed_id(value: float, digits: int) -> str:
    return ("+" if value >= 0 else "-") + _num_id(abs(value), digits)


def _coins(n: int) -> str:
    return f"{n} coin" if n == 1 else f"{n} coins"


def english(f: _Facts) -> str:
    n = len(f.coins) - len(f.unanswered)
    parts: list[str] = []
    if f.overall is None:
        parts.append(
            f"No overall call: only {n} of {len(f.coins)} coins have a signal (at least {MIN_ANSWERED} needed)."
        )
    else:
        groups = [
            f"{len(names)} {label} ({', '.join(names)})"
            for label, names in (
                ("LONG", f.names("LONG")),
                ("SHORT", f.names("SHORT")),
                ("NEUTRAL", f.names("NEUTRAL")),
            )
            if names
        ]
        parts.append(f"Market is {f.overall.value}: of {n} coins, {', '.join(groups)}; average score {f.score:.1f}.")
    if f.funding is not None:
        side = "longs pay shorts" if f.funding > 0 else "shorts pay longs" if f.funding < 0 else "no one pays"
        parts.append(f"Average funding {f.funding:+.4f}% per 8 h over {_coins(f.funding_n)} ({side}).")
    else:
        parts.append("Average funding: not available.")
    if f.liquidation is not None:
        lean = "longs were flushed" if f.liquidation > 50 else "shorts were squeezed" if f.liquidation < 50 else "even"
        parts.append(
            f"Liquidations over 24 h: longs {f.liquidation:.0f}% of liquidated value over {_coins(f.liquidation_n)} "
            f"({lean})."
        )
    else:
        parts.append("Liquidation balance: not available.")
    for c in f.unanswered:
        parts.append(f"{c.base}: no signal ({c.problem}).")
    return " ".join(parts)


_ID_LABEL = {"LONG": "LONG", "SHORT": "SHORT", "NEUTRAL": "NETRAL"}
_ID_OVERALL = {
    Overall.BULLISH: "BULLISH",
    Overall.BEARISH: "BEARISH",
    Overall.NEUTRAL: "NETRAL",
    Overall.MIXED: "CAMPURAN",
}


def indonesian(f: _Facts) -> str:
    n = len(f.coins) - len(f.unanswered)
    parts: list[str] = []
    if f.overall is None:
        parts.append(
            f"Belum ada kesimpulan: hanya {n} dari {len(f.coins)} koin yang punya sinyal (minimal {MIN_ANSWERED})."
        )
    else:
        groups = [
            f"{len(names)} {_ID_LABEL[label]} ({', '.join(names)})"
            for label in ("LONG", "SHORT", "NEUTRAL")
            if (names := f.names(label))
        ]
        score = _num_id(f.score or 0.0, 1)
        parts.append(f"Pasar {_ID_OVERALL[f.overall]}: dari {n} koin, {', '.join(groups)}; skor rata-rata {score}.")
    if f.funding is not None:
        side = (
            "long membayar short"
            if f.funding > 0
            else "short membayar long"
            if f.funding < 0
            else "tidak ada yang membayar"
        )
        parts.append(f"Funding rata-rata {_signed_id(f.funding, 4)}% per 8 jam dari {f.funding_n} koin ({side}).")
    else:
        parts.append("Funding rata-rata: tidak tersedia.")
    if f.liquidation is not None:
        lean = (
            "posisi long tersapu"
            if f.liquidation > 50
            else "posisi short terjepit"
            if f.liquidation < 50
            else "seimbang"
        )
        parts.append(
            f"Likuidasi 24 jam: long {_num_id(f.liquidation, 0)}% dari nilai terlikuidasi pada {f.liquidation_n} koin "
            f"({lean})."
        )
    else:
        parts.append("Keseimbangan likuidasi: tidak tersedia.")
    for c in f.unanswered:
        parts.append(f"{c.base}: tidak ada sinyal ({c.problem}).")
    return " ".join(parts)
