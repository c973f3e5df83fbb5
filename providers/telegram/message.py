"""The alert as a Telegram message in HTML parse mode: every value is escaped, only our own tags remain.

Telegram's HTML mode accepts ``<b>``, ``<i>``, ``<code>`` ... and needs ``<``, ``>`` and ``&`` escaped in
text (https://core.telegram.org/bots/api#html-style); a symbol or rule name is never trusted as markup.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.alert_rules import AlertEvent

MAX_MESSAGE_CHARS = 4096  # the Bot API's limit for a message text after entity parsing


def _e(value: object) -> str:
    return escape(str(value), quote=False)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.6g}"


def format_alert(event: AlertEvent) -> str:
    """``<b>BTCUSDT LONG</b>`` headline, score and confidence, verdict, plan, top factors, the rule."""
    f = event.facts
    arrow = {"LONG": "▲", "SHORT": "▼"}.get(f.recommendation, "•")
    lines = [
        f"{arrow} <b>{_e(f.symbol)} {_e(f.recommendation)}</b> · {_e(f.timeframe)} · {_e(f.mode)}"
        + (" · <i>replayed</i>" if event.replayed else ""),
        f"Score <b>{f.score:.1f}</b> · confidence {f.confidence:.0f}% · price <code>{_e(_num(f.price))}</code>",
    ]
    if f.verdict is not None:
        verdict = f"Verdict: <b>{_e(f.verdict)}</b>"
        if event.risk_mode is not None:
            verdict += f" · risk {_e(event.risk_mode)}"
        if event.decided_by is not None:
            verdict += f" · decided by {_e(event.decided_by)}"
            if event.fallback_reason:
                verdict += f" ({_e(event.fallback_reason)})"
        lines.append(verdict)
    if event.plan:
        lines.append(" · ".join(f"{_e(label)} <code>{_e(value)}</code>" for label, value in event.plan))
    if event.top_factors:
        # factor scores are 0..100 (50 neutral), not signed: "+20" would read as bullish on a SHORT's factor
        factors = ", ".join(f"{_e(name)} {score:.0f}/100" for name, score in event.top_factors)
        lines.append(f"Top factors: {factors}")
    lines.append(f"Rule: {_e(event.rule_name)} · {_e(event.generated_at.strftime('%Y-%m-%d %H:%M UTC'))}")
    text = "\n".join(lines)
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"
