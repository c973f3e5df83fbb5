"""The AI judge against a local server answering like the OpenAI API (the real answer shape from
``../shared/fixtures/openai/chat_completions.json``): an answer, a malformed answer, a refusal, a timeout
and an error each ending in a verdict that says who decided and why; the daily budget under concurrency;
the cache; and the key in no log line and no answer."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request  # noqa: TC002 - starlette reads it at runtime
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.judge import DecidedBy, VerdictKind, judge_rules
from engine.modes import Recommendation
from engine.plan import RiskMode
from providers.openai.client import OpenAiJudgeClient
from providers.replay import serve_in_background
from resolvers.ai_judge import AiJudge, DailyBudget
from tests.conftest import shared_path
from tests.test_trade_plan import inputs

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

KEY = "sk-test-DO-NOT-LOG-4f9c2e71b8a3"
NOW = datetime(2025, 11, 14, 20, 0, tzinfo=UTC)
LATER = datetime(2025, 11, 15, 0, 0, tzinfo=UTC)
OK_ANSWER = {"verdict": "DOWNSIZE", "risk_mode": "REDUCED", "reason": "Momentum is stretched; take half."}


def completion(content: str | None, refusal: str | None = None) -> dict[str, Any]:
    """The provider-published chat.completion example with our content (or a refusal) in its message."""
    body: dict[str, Any] = copy.deepcopy(
        json.loads(shared_path("fixtures", "openai", "chat_completions.json").read_text())
    )
    message = body["choices"][0]["message"]
    message["content"] = content
    message["refusal"] = refusal
    return body


class FakeOpenAi:
    """``POST /v1/chat/completions`` answering per ``mode``; counts requests and keeps their bodies."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"])])

    async def chat(self, request: Request) -> JSONResponse:
        self.requests.append(await request.json())
        self.auth.append(request.headers.get("authorization", ""))
        if self.mode == "slow":
            await asyncio.sleep(1.0)  # past the client's timeout; bounded so the server stops promptly
        if self.mode == "unauthorized":  # OpenAI's 401 text quotes the key: it must not travel further
            error = {"message": f"Incorrect API key provided: {KEY}.", "type": "invalid_request_error"}
            return JSONResponse({"error": error}, status_code=401)
        if self.mode == "refusal":
            return JSONResponse(completion(None, "I'm sorry, I cannot assist with that request."))
        if self.mode == "malformed":
            return JSONResponse(completion("CONFIRM, looks good"))
        if self.mode == "off_schema":
            return JSONResponse(completion(json.dumps({"verdict": "BUY", "risk_mode": "NORMAL", "reason": "x"})))
        if self.mode == "incoherent":
            return JSONResponse(completion(json.dumps({"verdict": "SKIP", "risk_mode": "AGGRESSIVE", "reason": "x"})))
        if self.mode == "gather":
            await asyncio.sleep(0.05)  # concurrent callers overlap
        return JSONResponse(completion(json.dumps(OK_ANSWER)))


CLIENTS: list[OpenAiJudgeClient] = []


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    yield
    while CLIENTS:
        await CLIENTS.pop().aclose()


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeOpenAi, str]]:
    server = FakeOpenAi()
    async with serve_in_background(server.app) as running:
        yield server, f"{running.base_url}/v1"
        while CLIENTS:  # before the server stops: no connection left open
            await CLIENTS.pop().aclose()


def judge_for(base_url: str, budget: int = 100, timeout: float = 2.0) -> AiJudge:
    client = OpenAiJudgeClient(api_key=KEY, base_url=base_url, model="gpt-4o-mini", timeout_seconds=timeout)
    CLIENTS.append(client)
    return AiJudge(client, DailyBudget(budget, lambda: NOW), lambda: NOW, model="gpt-4o-mini")


RULES = judge_rules(inputs(Recommendation.LONG))  # CONFIRM / AGGRESSIVE by the rules
PAYLOAD = {"call": {"symbol": "BTCUSDT", "side": "LONG"}}


async def test_an_answer_decides(fake: tuple[FakeOpenAi, str]) -> None:
    server, url = fake
    verdict = await judge_for(url).judge("k", LATER, PAYLOAD, RULES)
    assert (verdict.verdict, verdict.risk_mode) == (VerdictKind.DOWNSIZE, RiskMode.REDUCED)
    assert verdict.decided_by is DecidedBy.AI and verdict.fallback_reason is None
    assert verdict.reason == OK_ANSWER["reason"]
    assert verdict.checks == RULES.checks  # the rule checks stay visible
    sent = server.requests[0]
    assert sent["model"] == "gpt-4o-mini"
    schema = sent["response_format"]["json_schema"]
    assert schema["strict"] is True
    assert set(schema["schema"]["required"]) == {"verdict", "risk_mode", "reason"}
    assert json.loads(sent["messages"][1]["content"]) == PAYLOAD
    assert server.auth == [f"Bearer {KEY}"]


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("malformed", "AI invalid answer"),
        ("off_schema", "AI invalid answer"),
        ("refusal", "AI refusal"),
        ("incoherent", "AI incoherent answer: SKIP with risk mode AGGRESSIVE"),
        ("unauthorized", "AI HTTP 401"),
        ("slow", "AI timeout after 0.3s"),
    ],
)
async def test_every_failure_falls_back_to_the_rules(fake: tuple[FakeOpenAi, str], mode: str, reason: str) -> None:
    server, url = fake
    server.mode = mode
    verdict = await judge_for(url, timeout=0.3).judge("k", LATER, PAYLOAD, RULES)
    assert verdict.decided_by is DecidedBy.RULES
    assert (verdict.verdict, verdict.risk_mode) == (RULES.verdict, RULES.risk_mode)
    assert verdict.fallback_reason is not None and verdict.fallback_reason.startswith(reason)
    assert KEY not in verdict.fallback_reason
    assert len(server.requests) == 1  # no retries: each attempt may be billed


async def test_unreachable_falls_back() -> None:
    verdict = await judge_for("http://127.0.0.1:9/v1", timeout=1.0).judge("k", LATER, PAYLOAD, RULES)
    assert verdict.decided_by is DecidedBy.RULES
    assert verdict.fallback_reason in ("AI unreachable", "AI timeout after 1s")


async def test_the_daily_budget_holds_under_concurrency(fake: tuple[FakeOpenAi, str]) -> None:
    server, url = fake
    server.mode = "gather"
    judge = judge_for(url, budget=5)
    verdicts = await asyncio.gather(*(judge.judge(f"state-{i}", LATER, PAYLOAD, RULES) for i in range(40)))
    by = Counter(v.decided_by for v in verdicts)
    assert by == {DecidedBy.AI: 5, DecidedBy.RULES: 35}
    assert len(server.requests) == 5
    assert judge.budget.used() == 5
    assert REGISTRY.get_sample_value("ai_judge_budget_used_calls") == 5  # today's spend, on /metrics
    spent = [v for v in verdicts if v.decided_by is DecidedBy.RULES]
    assert all(v.fallback_reason == "daily AI budget of 5 calls is spent" for v in spent)


def test_the_budget_resets_each_utc_day() -> None:
    now = [NOW]
    budget = DailyBudget(2, lambda: now[0])
    assert [budget.try_spend() for _ in range(3)] == [True, True, False]
    now[0] = datetime(2025, 11, 15, 0, 0, 1, tzinfo=UTC)
    assert budget.try_spend() is True and budget.used() == 1
    assert DailyBudget(0, lambda: NOW).try_spend() is False


async def test_one_call_per_signal_state(fake: tuple[FakeOpenAi, str]) -> None:
    server, url = fake
    server.mode = "gather"
    judge = judge_for(url)
    same = await asyncio.gather(*(judge.judge("state", LATER, PAYLOAD, RULES) for _ in range(10)))
    assert len(server.requests) == 1 and all(v.decided_by is DecidedBy.AI for v in same)
    await judge.judge("state", LATER, PAYLOAD, RULES)
    assert len(server.requests) == 1  # cached until the state's bar is over
    expired = await judge.judge("state2", NOW, PAYLOAD, RULES)  # expires_at not after now: not served again
    await judge.judge("state2", NOW, PAYLOAD, RULES)
    assert expired.decided_by is DecidedBy.AI and len(server.requests) == 3


async def test_a_fallback_is_not_cached(fake: tuple[FakeOpenAi, str]) -> None:
    server, url = fake
    judge = judge_for(url)
    server.mode = "refusal"
    assert (await judge.judge("s", LATER, PAYLOAD, RULES)).decided_by is DecidedBy.RULES
    server.mode = "ok"
    assert (await judge.judge("s", LATER, PAYLOAD, RULES)).decided_by is DecidedBy.AI


async def test_the_key_is_in_no_log_line(fake: tuple[FakeOpenAi, str], caplog: pytest.LogCaptureFixture) -> None:
    server, url = fake
    caplog.set_level(logging.DEBUG)  # the SDK's and the HTTP client's debug lines included
    with structlog.testing.capture_logs() as events:
        for mode in ("unauthorized", "malformed", "refusal", "ok"):
            server.mode = mode
            await judge_for(url).judge(mode, LATER, PAYLOAD, RULES)
    text = caplog.text + "\n".join(repr(e) for e in events)
    assert len(server.requests) == 4
    assert any("fell back" in repr(e) for e in events)  # the failures were logged...
    assert KEY not in text  # ... without the key
    assert KEY[-12:] not in text


@pytest.mark.parametrize(
    ("verdict", "risk", "ok"),
    [
        ("CONFIRM", "AGGRESSIVE", True),
        ("CONFIRM", "REDUCED", True),
        ("CONFIRM", "AVOID", False),
        ("DOWNSIZE", "REDUCED", True),
        ("DOWNSIZE", "NORMAL", False),  # "take it smaller" at a normal size
        ("DOWNSIZE", "AGGRESSIVE", False),
        ("SKIP", "AVOID", True),
        ("SKIP", "REDUCED", False),
        ("WAIT", "NORMAL", False),
    ],
)
def test_an_answer_that_contradicts_itself_is_refused(verdict: str, risk: str, ok: bool) -> None:
    from providers.openai.models import AiVerdictAnswer
    from resolvers.ai_judge import coherent

    answer = AiVerdictAnswer.model_validate({"verdict": verdict, "risk_mode": risk, "reason": "x"})
    assert (coherent(answer) is None) is ok
