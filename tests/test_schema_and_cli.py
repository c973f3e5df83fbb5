"""The committed SDL is the generated one; the CLI's commands exist and behave; settings parse env."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from schema.build import SDL_PATH, schema_sdl
from signal_api.cli import build_parser, main
from signal_api.settings import Settings


def test_committed_schema_matches_the_generated_one() -> None:
    committed = SDL_PATH.read_text()
    assert committed == schema_sdl(), "schema changed: run `signal-api export-schema > schema/schema.graphql`"


def test_export_schema_prints_the_sdl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-schema"]) == 0
    out = capsys.readouterr().out
    assert "union SignalResult = Signal | InvalidInput | SymbolNotFound | InsufficientData" in out
    assert out == SDL_PATH.read_text()


def test_cli_parses_every_command() -> None:
    parser = build_parser()
    serve = parser.parse_args(["serve", "--port", "9001", "--replay", "c.json", "--latency-ms", "100"])
    assert (serve.port, serve.replay, serve.latency_ms) == (9001, Path("c.json"), 100.0)
    replay = parser.parse_args(["replay", "--cassette", "c.json", "--port", "9002", "--latency-ms", "5"])
    assert (replay.cassette, replay.host, replay.port, replay.latency_ms) == (Path("c.json"), "127.0.0.1", 9002, 5.0)
    with pytest.raises(SystemExit):
        parser.parse_args(["replay"])  # --cassette is required


def test_console_script_is_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "signal_api.cli", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0 and "export-schema" in result.stdout


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINANCE_BASE_URL", "http://127.0.0.1:1234/binance")
    monkeypatch.setenv("COINGLASS_API_KEY", "secret")
    monkeypatch.setenv("TTL_PRICE_SECONDS", "2.5")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.binance_base_url == "http://127.0.0.1:1234/binance"
    assert settings.coinglass_api_key is not None and settings.coinglass_api_key.get_secret_value() == "secret"
    assert "secret" not in repr(settings)
    assert settings.cache_ttls().price == 2.5
    replayed = settings.with_replay_base("http://127.0.0.1:9/")
    assert replayed.coingecko_base_url == "http://127.0.0.1:9/coingecko"
    assert replayed.alternative_me_base_url == "http://127.0.0.1:9/alternative_me"
    assert replayed.public_base_url == settings.public_base_url and "public" not in settings.base_urls()


def test_settings_defaults_are_the_real_public_hosts() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.binance_base_url == "https://fapi.binance.com"
    assert settings.coinglass_base_url == "https://open-api-v4.coinglass.com"
    assert settings.coinglass_api_key is None


async def test_validation_cache_hits_for_repeated_query_text() -> None:
    """Validation is ~65% of a cached request: the same query text must be validated once, not per request."""
    from schema.build import build_schema

    schema = build_schema(max_depth=7)
    cache = schema.document_cache  # type: ignore[attr-defined]
    query = 'query Unique7f3 { symbols(search: "ZZZ") { __typename } }'
    for _ in range(5):
        await schema.execute(query)
    assert (cache.parse_misses, cache.parse_hits) == (1, 4)
    assert (cache.validation_misses, cache.validation_hits) == (1, 4)
