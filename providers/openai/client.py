"""The AI judge's one call: ``POST {OPENAI_BASE_URL}/chat/completions`` with a strict JSON-schema
``response_format`` (https://platform.openai.com/docs/guides/structured-outputs), through the official
``openai`` SDK on the process's shared httpx2 client.

Every way the call can go wrong ends in :class:`AiJudgeError` with a short, key-free ``reason`` (the
caller falls back to the rules with it): ``timeout``, ``refusal`` (``message.refusal``), ``invalid
answer`` (not JSON, not the schema, cut short), ``HTTP <status>`` and ``unreachable``. The SDK's own
retries are off: each attempt may cost money, and the daily budget counts calls, not successes.
Error bodies are never echoed (OpenAI's 401 text quotes part of the key).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import openai
import orjson
import pydantic

from providers.openai.errors import AiJudgeError
from providers.openai.models import AiVerdictAnswer

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx2

SYSTEM_PROMPT = (
    "You judge one crypto futures trade call produced by an 8-factor scoring engine. You receive the call "
    "(symbol, side LONG or SHORT, score 0..100, confidence, the mode's thresholds), its factors, an ATR trade "
    "plan, the market structure when known, and the rule checks already made. Answer with a verdict: CONFIRM "
    "(take it), DOWNSIZE (take it smaller), SKIP (do not take it) or WAIT (not yet), and a risk mode: AVOID "
    "(size 0, required for SKIP and WAIT), REDUCED (required for DOWNSIZE), NORMAL or AGGRESSIVE. Judge in "
    "the call's own direction (a SHORT is as confirmable as a LONG). Give a one-sentence reason a trader can "
    "check against the data."
)


class OpenAiJudgeClient:
    """One structured-output call per :meth:`verdict`; ``timeout_seconds`` bounds the whole call."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        model: str,
        timeout_seconds: float,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self._model = model
        self._timeout = timeout_seconds
        self._owns_http = http_client is None
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=0, http_client=http_client
        )

    @property
    def model(self) -> str:
        return self._model

    async def aclose(self) -> None:
        """Close the SDK's own HTTP client (when none was passed in; a shared one belongs to its owner)."""
        if self._owns_http:
            await self._client.close()

    async def verdict(self, payload: Mapping[str, Any]) -> AiVerdictAnswer:
        messages: list[Any] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": orjson.dumps(payload).decode()},
        ]
        try:
            async with asyncio.timeout(self._timeout):
                completion = await self._client.chat.completions.parse(
                    model=self._model, messages=messages, response_format=AiVerdictAnswer
                )
        except (TimeoutError, openai.APITimeoutError):
            raise AiJudgeError(f"timeout after {self._timeout:g}s") from None
        except openai.LengthFinishReasonError:
            raise AiJudgeError("invalid answer: cut short at the length limit") from None
        except openai.ContentFilterFinishReasonError:
            raise AiJudgeError("refusal: stopped by the content filter") from None
        except (pydantic.ValidationError, ValueError) as exc:
            raise AiJudgeError(f"invalid answer: {type(exc).__name__}") from None
        except openai.APIStatusError as exc:
            raise AiJudgeError(f"HTTP {exc.status_code}") from None
        except openai.APIConnectionError:
            raise AiJudgeError("unreachable") from None
        except openai.APIError as exc:  # e.g. a response the SDK could not validate
            raise AiJudgeError(f"invalid answer: {type(exc).__name__}") from None
        if not completion.choices:
            raise AiJudgeError("invalid answer: no choices")
        message = completion.choices[0].message
        if message.refusal:
            raise AiJudgeError("refusal")
        if message.parsed is None:
            raise AiJudgeError("invalid answer: no content")
        return message.parsed
