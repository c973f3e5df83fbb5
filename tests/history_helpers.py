"""Helpers of the signal-history tests: one embedded PostgreSQL per test session, a fresh database per
test, and engine signals built by hand."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
import uuid
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]

from engine import (
    WEIGHTS,
    DataQuality,
    FactorName,
    FactorScore,
    InputName,
    Mode,
    Recommendation,
    Signal,
    SourceStatus,
    Tier,
    TierCount,
)
from engine.market import Timeframe
from persistence.db import open_database

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from pgserver.postgres_server import PostgresServer

    from persistence.db import Database

T0 = datetime(2025, 7, 11, 20, 0, tzinfo=UTC)

_server: PostgresServer | None = None


def session_server() -> PostgresServer:
    """The session's embedded PostgreSQL (started on first use, stopped at interpreter exit)."""
    global _server
    if _server is None:
        root = Path(tempfile.mkdtemp(prefix="history-tests-"))
        atexit.register(shutil.rmtree, root, True)  # runs after pgserver's own atexit stop (LIFO)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            from pgserver.postgres_server import get_server
        _server = get_server(root / "pg", cleanup_mode="stop")
    return _server


def stop_server(server: PostgresServer) -> None:
    """Stop the server behind every open connection (fast shutdown: clients are disconnected)."""
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


def restart_server(server: PostgresServer) -> None:
    server.ensure_postgres_running()


@contextlib.asynccontextmanager
async def fresh_database(tmp_path: Path, *, migrate: bool = True) -> AsyncIterator[tuple[Database, str]]:
    """A new, empty database on the session server (dropped afterwards), opened and migrated."""
    server = session_server()
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(server.get_uri())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')  # an identifier, not a value: cannot be a $1
    finally:
        await admin.close()
    url = server.get_uri(name)
    try:
        async with open_database(url, tmp_path, min_size=1, max_size=4, migrate=migrate) as db:
            yield db, url
    finally:
        admin = await asyncpg.connect(server.get_uri())
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def factors(scores: Mapping[FactorName, float | None] | None = None) -> tuple[FactorScore, ...]:
    scores = scores or {}
    out = []
    for name in FactorName:
        score = scores.get(name, 50.0)
        weight = float(WEIGHTS[name])
        out.append(
            FactorScore(
                name=name,
                weight=weight,
                effective_weight=weight if score is not None else 0.0,
                score=score,
                contribution=(score or 0.0) * weight / 100.0,
                available=score is not None,
                source="binance.test" if score is not None else None,
                raw_value=1.0,
                detail="by hand",
                error=None if score is not None else "no value",
                failed_sources=(),
            )
        )
    return tuple(out)


QUALITY = DataQuality(
    score=90.0,
    tiers=(TierCount(Tier.CRITICAL, 2, 2), TierCount(Tier.IMPORTANT, 3, 4)),
    missing=("social: no key",),
    sources=(
        SourceStatus(InputName.PRICE, Tier.CRITICAL, "binance.ticker", True, None, ()),
        SourceStatus(InputName.SOCIAL, Tier.OPTIONAL, None, False, "no key", ("lunarcrush",)),
    ),
)


def make_signal(
    *,
    symbol: str = "BTCUSDT",
    recommendation: Recommendation = Recommendation.LONG,
    score: float | None = None,
    at: datetime = T0,
    mode: Mode = Mode.AGGRESSIVE,
    timeframe: Timeframe = Timeframe.H4,
    price: float = 100.0,
    factor_scores: Mapping[FactorName, float | None] | None = None,
) -> Signal:
    if score is None:
        score = {Recommendation.LONG: 70.0, Recommendation.SHORT: 30.0, Recommendation.NEUTRAL: 50.0}[recommendation]
    fs = factors(factor_scores)
    return Signal(
        symbol=symbol,
        recommendation=recommendation,
        score=score,
        confidence=40.0,
        mode=mode,
        thresholds=mode.thresholds,
        timeframe=timeframe,
        price=price,
        factors=fs,
        top_factors=fs[:1],
        data_quality=QUALITY,
        generated_at=at,
    )


async def table_ids(db: Database) -> list[Any]:
    async with db.connection() as conn:
        return [r["id"] for r in await conn.fetch("SELECT id FROM signals")]
