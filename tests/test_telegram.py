"""Telegram: the message (HTML, every value escaped), the Bot API client over real HTTP on 127.0.0.1, 429
``retry_after`` honoured, one send per (alert, chat), failures counted without the token anywhere."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.alert_rules import AlertEvent, AlertFacts
from providers.errors import AuthenticationFailed
from providers.http import create_http_client
from providers.replay import serve_in_background
from providers.telegram.message import format_alert
from providers.telegram.outbox import TelegramOutbox
from providers.telegram.raw import TelegramBotApi
from tests.telegram_helpers import TOKEN, BotApi

AT = datetime(2025, 7, 11, 20, 0, tzinfo=UTC)


def event(name: str = "BTC <longs> & co", symbol: str = "BTCUSDT") -> AlertEvent:
    facts = AlertFacts(
        symbol=symbol,
        recommendation="SHORT",
        score=31.5,
        confidence=58.0,
        price=117_250.5,
        data_quality=90.0,
        timeframe="4h",
        mode="aggressive",
        verdict="DOWNSIZE",
    )
    return AlertEvent(
        rule_id="r-1",
        rule_name=name,
        facts=facts,
        generated_at=AT,
        top_factors=(("funding", 18.0), ("momentum", 31.0)),  # factor scores are 0..100, 50 neutral
        plan=(("Entry", "117,250.5"), ("Stop", "119,100"), ("TP", "112,625")),
        risk_mode="REDUCED",
        decided_by="RULES",
        fallback_reason="AI timeout after 10s <retry>",
    )


def test_the_message_escapes_every_value() -> None:
    text = format_alert(event(name="<script>alert(1)</script> & <b>"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;" in text
    assert "<script>" not in text
    assert text.startswith("▼ <b>BTCUSDT SHORT</b> · 4h · aggressive")
    assert "Verdict: <b>DOWNSIZE</b> · risk REDUCED · decided by RULES (AI timeout after 10s &lt;retry&gt;)" in text
    assert "Entry <code>117,250.5</code> · Stop <code>119,100</code> · TP <code>112,625</code>" in text
    assert "Top factors: funding 18/100, momentum 31/100" in text  # unsigned: a 0..100 score, not a delta
    # only our own tags remain
    import re

    assert set(re.findall(r"</?([a-z]+)", text)) <= {"b", "i", "code"}


async def test_send_message_over_http_and_429_retry_after_is_honoured() -> None:
    bot = BotApi(rate_limit_first=2, retry_after=3)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with serve_in_background(bot.app()) as server, create_http_client() as http:
        outbox = TelegramOutbox(TelegramBotApi(http, server.base_url, TOKEN), ["1001", "1002"], sleep=sleep)
        await outbox.start()
        try:
            assert outbox.offer(event().dedup_key, format_alert(event())) == 2
            await outbox.drain()
        finally:
            await outbox.aclose()
    assert waits == [3.0, 3.0]  # the answer's parameters.retry_after, twice, then sent
    assert bot.calls == 4 and len(bot.received) == 2
    assert {m["chat_id"] for m in bot.received} == {"1001", "1002"}
    sent = bot.received[0]
    assert sent["parse_mode"] == "HTML" and sent["text"] == format_alert(event())
    assert outbox.stats.sent == 2 and outbox.stats.rate_limited == 2 and outbox.stats.failed == 0
    assert outbox.stats.failing == 0


async def test_the_same_alert_is_sent_once_per_chat() -> None:
    bot = BotApi()
    async with serve_in_background(bot.app()) as server, create_http_client() as http:
        outbox = TelegramOutbox(TelegramBotApi(http, server.base_url, TOKEN), ["1001"])
        await outbox.start()
        try:
            first = event()
            assert outbox.offer(first.dedup_key, format_alert(first)) == 1
            assert outbox.offer(first.dedup_key, format_alert(first)) == 0
            other = event(symbol="ETHUSDT")
            assert outbox.offer(other.dedup_key, format_alert(other)) == 1
            await outbox.drain()
        finally:
            await outbox.aclose()
    assert len(bot.received) == 2 and outbox.stats.duplicates == 1


async def test_a_bad_token_fails_once_and_the_token_is_nowhere(capsys: pytest.CaptureFixture[str]) -> None:
    bot = BotApi(token="999:other")
    async with serve_in_background(bot.app()) as server, create_http_client() as http:
        api = TelegramBotApi(http, server.base_url, TOKEN)
        with pytest.raises(AuthenticationFailed) as failed:
            await api.send_message("1001", "hello")
        assert TOKEN not in str(failed.value) and failed.value.__cause__ is None
        outbox = TelegramOutbox(api, ["1001"])
        await outbox.start()
        try:
            outbox.offer("k", "hello")
            await outbox.drain()
        finally:
            await outbox.aclose()
    assert bot.calls == 2  # not retried: a bad token stays bad
    assert outbox.stats.failed == 1 and outbox.stats.failures_by_reason == {"UPSTREAM_AUTH_FAILED": 1}
    assert outbox.stats.failing == 1
    assert outbox.stats.last_error is not None and TOKEN not in outbox.stats.last_error
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err


async def test_an_unreachable_bot_api_is_a_counted_failure() -> None:
    async with create_http_client() as http:
        # a port nothing listens on: connection refused, retried with backoff, then given up
        api = TelegramBotApi(http, "http://127.0.0.1:9", TOKEN, timeout_seconds=1.0)
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)

        outbox = TelegramOutbox(api, ["1001"], max_attempts=3, sleep=sleep)
        await outbox.start()
        try:
            outbox.offer("k", "hello")
            await outbox.drain()
        finally:
            await outbox.aclose()
    assert waits == [1.0, 2.0]
    assert outbox.stats.failures_by_reason == {"UPSTREAM_UNAVAILABLE": 1}
    assert outbox.stats.last_error == "telegram.sendMessage: connection failed"


def test_the_token_is_a_redacted_secret_even_in_a_debug_url_line() -> None:
    from pydantic import SecretStr

    from signal_api.logging import Redactor, secret_values
    from signal_api.settings import Settings

    settings = Settings(_env_file=None, telegram_bot_token=SecretStr(TOKEN))  # type: ignore[call-arg]
    assert TOKEN not in repr(settings)
    line = f'HTTP Request: POST https://api.telegram.org/bot{TOKEN}/sendMessage "HTTP/1.1 200 OK"'  # httpx2, DEBUG
    scrubbed = Redactor(secret_values(settings)).text(line)
    assert TOKEN not in scrubbed and "/sendMessage" in scrubbed


async def test_a_crashing_send_does_not_stop_later_alerts() -> None:
    """An unexpected error in one send is counted as failed; the sender task lives on for the next alert."""
    bot = BotApi()

    class Flaky(TelegramBotApi):
        calls = 0

        async def send_message(self, chat_id: str, text: str) -> Any:
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise RuntimeError("a defect, not an upstream error")
            return await super().send_message(chat_id, text)

    async with serve_in_background(bot.app()) as server, create_http_client() as http:
        outbox = TelegramOutbox(Flaky(http, server.base_url, TOKEN), ["1001"])
        await outbox.start()
        try:
            outbox.offer("first", "one")
            outbox.offer("second", "two")
            await asyncio.wait_for(outbox.drain(), 10)
        finally:
            await outbox.aclose()
    assert [m["text"] for m in bot.received] == ["two"]
    assert (outbox.stats.failed, outbox.stats.sent) == (1, 1)
    assert outbox.stats.failures_by_reason == {"internal": 1}
