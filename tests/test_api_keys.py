"""API keys at rest and on the command line: only a hash is stored, revocation is immediate, and
``signal-api keys create | list | revoke`` work against a real PostgreSQL (the session's embedded one)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import uuid
from typing import TYPE_CHECKING

import asyncpg  # type: ignore[import-untyped]
import pytest
import structlog

from persistence.api_keys import ApiKeyRepository, generate_key, hash_key, looks_like_key
from signal_api.keys_cli import KeysCommandError, parse_scopes, run_create, run_list, run_revoke
from signal_api.security.principal import Scope
from tests.history_helpers import fresh_database, session_server

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from persistence.db import Database


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """The CLI configures logging for the process (structlog to the stderr of the moment, which pytest
    closes after the test): put the previous configuration back so later tests still log."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)


async def _all_stored_text(db: Database) -> str:
    """Every column of every api_keys row as text (bytea as hex), and the table's name for sanity."""
    async with db.connection() as conn:
        rows = await conn.fetch("SELECT row_to_json(k)::text AS row FROM api_keys AS k")
    return "\n".join(str(r["row"]) for r in rows)


def test_generated_keys_are_random_and_well_formed() -> None:
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200
    assert all(looks_like_key(k) and len(k) == 47 for k in keys)
    assert not looks_like_key("fsa_short") and not looks_like_key("x" * 47)
    key = next(iter(keys))
    assert hash_key(key) == hashlib.sha256(key.encode()).digest()


async def test_only_a_hash_is_stored_and_lookup_finds_the_key(tmp_path: Path) -> None:
    async with fresh_database(tmp_path) as (db, _):
        repo = ApiKeyRepository(db)
        new = await repo.create("dashboard", ["stream", "read"], rate_per_minute=120)
        assert new.key not in repr(new)  # the plain key never shows in a repr (logs, tracebacks)

        stored = await _all_stored_text(db)
        secret_part = new.key.removeprefix("fsa_")
        assert "dashboard" in stored  # the row is there ...
        assert new.key not in stored and secret_part not in stored  # ... but not the key
        assert secret_part[8:] not in stored  # nor the part after the display prefix
        async with db.connection() as conn:
            digest = await conn.fetchval("SELECT key_hash FROM api_keys WHERE id = $1", new.record.id)
        assert bytes(digest) == hashlib.sha256(new.key.encode()).digest()
        assert new.record.prefix == new.key[:12] and new.record.scopes == ("read", "stream")

        found = await repo.lookup(new.key)
        assert found is not None and found.id == new.record.id and found.active
        assert found.rate_per_minute == 120 and found.cost_per_minute is None
        assert await repo.lookup(generate_key()) is None
        assert await repo.lookup(new.key[:-1] + ("A" if new.key[-1] != "A" else "B")) is None


async def test_revocation_is_immediate_idempotent_and_counted(tmp_path: Path) -> None:
    async with fresh_database(tmp_path) as (db, _):
        repo = ApiKeyRepository(db)
        first = await repo.create("one", ["read"])
        second = await repo.create("two", ["read", "admin"])
        assert await repo.count_active() == 2

        revoked = await repo.revoke(first.record.id)
        assert revoked is not None and revoked.revoked_at is not None
        looked_up = await repo.lookup(first.key)
        assert looked_up is not None and not looked_up.active  # the very next lookup sees it
        assert await repo.count_active() == 1

        again = await repo.revoke(first.record.id)
        assert again is not None and again.revoked_at == revoked.revoked_at  # the first time is kept
        assert await repo.revoke(999_999) is None
        assert [(r.name, r.active) for r in await repo.list()] == [("one", False), ("two", True)]
        assert second.record.scopes == ("admin", "read")


async def test_last_use_is_written_at_most_once_per_interval(tmp_path: Path) -> None:
    async with fresh_database(tmp_path) as (db, _):
        repo = ApiKeyRepository(db, touch_every_seconds=3600)
        new = await repo.create("bot", ["read"])
        assert new.record.last_used_at is None
        await repo.touch(new.record.id)
        touched = await repo.get(new.record.id)
        assert touched is not None and touched.last_used_at is not None
        await repo.touch(new.record.id)
        again = await repo.get(new.record.id)
        assert again is not None and again.last_used_at == touched.last_used_at


def test_scopes_are_parsed_and_unknown_ones_refused() -> None:
    assert parse_scopes("read, stream,READ") == (Scope.READ, Scope.STREAM)
    assert parse_scopes("read,stream,history,admin") == tuple(Scope)
    with pytest.raises(Exception, match="unknown scope write"):
        parse_scopes("read,write")
    with pytest.raises(Exception, match="at least one scope"):
        parse_scopes(" , ")


async def test_cli_functions_create_list_revoke(tmp_path: Path) -> None:
    from persistence.runtime import HistoryConfig

    async with fresh_database(tmp_path) as (db, url):
        config = HistoryConfig(database_url=url, data_dir=tmp_path)
        out, err = io.StringIO(), io.StringIO()
        assert (
            await run_create(config, out, err, name="ci", scopes=(Scope.READ, Scope.HISTORY), rate_per_minute=60) == 0
        )
        key = out.getvalue().strip()
        assert looks_like_key(key) and out.getvalue() == key + "\n"  # the key alone on stdout
        assert "shown only this once" in err.getvalue() and key not in err.getvalue()
        record = await ApiKeyRepository(db).lookup(key)
        assert record is not None and record.scopes == ("history", "read") and record.rate_per_minute == 60

        listing = io.StringIO()
        await run_list(config, listing)
        lines = listing.getvalue().splitlines()
        assert lines[0].split()[:4] == ["id", "name", "prefix", "scopes"]
        assert lines[1].split()[:4] == [str(record.id), "ci", key[:12] + "…", "history,read"]
        assert key not in listing.getvalue()

        done = io.StringIO()
        assert await run_revoke(config, done, record.id) == 0
        assert done.getvalue().startswith(f"revoked API key {record.id} 'ci'")
        after = await ApiKeyRepository(db).lookup(key)
        assert after is not None and not after.active
        with pytest.raises(KeysCommandError, match="no API key with id 424242") as unknown:
            await run_revoke(config, io.StringIO(), 424242)
        assert unknown.value.exit_code == 2


def _new_database() -> str:
    """A fresh database on the session server, from synchronous code (the CLI runs its own loop)."""
    server = session_server()
    name = f"t_{uuid.uuid4().hex[:16]}"

    async def create() -> None:
        admin = await asyncpg.connect(server.get_uri())
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    asyncio.run(create())
    url: str = server.get_uri(name)
    return url


@pytest.mark.usefixtures("cli_logging")
def test_keys_command_end_to_end(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from signal_api.cli import main

    monkeypatch.setenv("DATABASE_URL", _new_database())
    monkeypatch.setenv("HISTORY_ENABLED", "true")
    assert main(["keys", "create", "--name", "ops", "--scopes", "admin,read", "--rate", "30", "--cost", "500"]) == 0
    created = capsys.readouterr()
    key = created.out.strip()
    assert looks_like_key(key) and key not in created.err

    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert "ops" in listed and "admin,read" in listed and key[:12] in listed and key not in listed
    key_id = listed.splitlines()[1].split()[0]

    assert main(["keys", "revoke", key_id]) == 0
    assert "revoked API key" in capsys.readouterr().out
    assert main(["keys", "revoke", key_id]) == 0
    assert "already revoked" in capsys.readouterr().out
    assert main(["keys", "revoke", "9999"]) == 2
    failed = capsys.readouterr()
    assert failed.err.strip() == "signal-api keys: no API key with id 9999 (see signal-api keys list)"

    with pytest.raises(SystemExit):
        main(["keys", "create", "--name", "x", "--scopes", "read,write"])
    assert "unknown scope write" in capsys.readouterr().err


@pytest.mark.usefixtures("cli_logging")
def test_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from signal_api.cli import main

    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")  # port 1: refused at once
    assert main(["keys", "list"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("signal-api keys:")]
    assert len(lines) == 1 and "cannot reach the key store (DATABASE_URL)" in lines[0]
    assert "Traceback" not in err


def test_keys_are_redacted_from_logs_wherever_they_appear() -> None:
    from signal_api.logging import REDACTED, Redactor

    key = generate_key()
    redactor = Redactor()
    text = redactor.text(f"connection_init {{'payload': {{'apiKey': '{key}'}}}} then {key} and {key[:12]}")
    assert key not in text and key[12:] not in text and text.count(REDACTED) == 2
    assert key[:12] in text  # the display prefix is not a secret
    assert redactor.value({"apiKey": key, "name": "bot"}) == {"apiKey": REDACTED, "name": "bot"}
