"""The CLI explains itself: help on every command and option, one-line errors that say what to do, and the
URL printed by ``serve`` in every mode."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from signal_api.cli import announcement, build_parser, main, serving_line
from signal_api.settings import Settings
from tests.conftest import CASSETTE_NAMES, shared_path

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[1]


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every (sub)command of the parser, with the one-line help its parent lists it with."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, child in action.choices.items():
                yield (*path, name), listed.get(name, "")
                yield from commands(child, (*path, name))


def subparser(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def test_every_command_and_option_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    found = list(commands(parser))
    names = {path for path, _ in found}
    assert {("serve",), ("replay",), ("export-schema",), ("migrate",), ("keys", "create")} <= names
    for path, listed_help in found:
        command = subparser(parser, path)
        assert len(listed_help) > 10, path  # shown in the parent's list of commands
        assert command.description is not None and len(command.description) > 20, path  # shown by its --help
        for action in command._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            assert action.help not in (None, "", argparse.SUPPRESS), (path, action.dest)
        with pytest.raises(SystemExit) as exited:
            main([*path, "--help"])
        assert exited.value.code == 0
        printed = capsys.readouterr().out
        assert printed.startswith(f"usage: signal-api {' '.join(path)}"), path
        assert command.description.split()[0] in printed, path


def _closed_port() -> socket.socket:
    """A bound socket that does not listen: connecting to its port is refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def _run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signal_api.cli", *args],
        cwd=REPO,
        env={**os.environ, "LOG_LEVEL": "INFO", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("command", [("migrate",), ("export",), ("keys", "list")])
def test_an_unreachable_database_is_one_line_with_what_to_do(command: tuple[str, ...]) -> None:
    with contextlib.closing(_closed_port()) as closed:
        port = closed.getsockname()[1]
        result = _run_cli(
            *command,
            env={"DATABASE_URL": f"postgresql://nobody:s3cret-pw@127.0.0.1:{port}/none", "HISTORY_ENABLED": "true"},
        )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[:2000]
    assert lines[0].startswith(f"signal-api {command[0]}: cannot reach the ")
    assert "(DATABASE_URL)" in lines[0] and "ConnectionRefusedError" in lines[0]
    assert "unset DATABASE_URL" in lines[0]  # what to do
    assert "s3cret-pw" not in result.stderr and "Traceback" not in result.stderr


def test_a_missing_cassette_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    assert main(["serve", "--replay", str(missing)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"signal-api serve: no cassette at {missing} (the recorded markets are ../shared/cassettes/*.json)"
    )
    assert main(["replay", "--cassette", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"signal-api replay: cannot read {missing}: No such file") and "\n" not in err
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 1}')
    assert main(["replay", "--cassette", str(broken)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"signal-api replay: {broken} is not a cassette: ") and "\n" not in err


def test_the_serving_line_names_the_url_and_the_market_in_every_mode() -> None:
    def line(host: str = "127.0.0.1", **settings: object) -> str:
        return serving_line(Settings(_env_file=None, **settings), host, 8123)  # type: ignore[call-arg, arg-type]

    live = line()
    assert "http://127.0.0.1:8123/graphql" in live and "with live upstreams" in live and "GraphiQL" in live
    assert "http://127.0.0.1:8123/docs" in line() and "http://127.0.0.1:8123/invoke" in line()
    assert "replayed from x.json" in line(replay_cassette=Path("x.json"))
    assert "replay server at http://127.0.0.1:8900" in line(replay_url="http://127.0.0.1:8900")
    everywhere = line("0.0.0.0")
    assert "all interfaces, port 8123" in everywhere and "http://127.0.0.1:8123/graphql" in everywhere
    assert "http://[::1]:8123/graphql" in line("::1")
    assert "GraphiQL" not in line(graphiql=False)


def test_the_announcement_follows_the_log_format() -> None:
    """JSON logs stay one JSON object per line; a terminal gets the plain line."""
    settings = Settings(_env_file=None, log_json=None)  # type: ignore[call-arg]
    plain = announcement(settings, "127.0.0.1", 8123, terminal=True)
    assert plain == serving_line(settings, "127.0.0.1", 8123)
    record = json.loads(announcement(settings, "0.0.0.0", 8123, terminal=False))
    assert record["level"] == "info" and record["url"] == "http://127.0.0.1:8123/graphql"
    assert record["event"] == serving_line(settings, "0.0.0.0", 8123)
    forced = Settings(_env_file=None, log_json=False)  # type: ignore[call-arg]
    assert announcement(forced, "127.0.0.1", 8123, terminal=False).startswith("signal-api: running")


def test_serve_prints_its_url_once_listening_even_with_warning_level_json_logs() -> None:
    cassette = shared_path("cassettes", CASSETTE_NAMES[0])
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "LOG_LEVEL": "WARNING", "LOG_JSON": "true", "HISTORY_ENABLED": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "signal_api.cli", "serve", "--replay", str(cassette), "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(120, process.kill)  # a hung server ends the blocking reads below
    watchdog.start()
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 90
        seen: list[str] = []
        while time.monotonic() < deadline and len(seen) < 500:
            text = process.stderr.readline()
            if not text:
                break  # the process ended
            seen.append(text)
            if '"signal-api: running' in text:
                break
        records = [json.loads(text) for text in seen if text.strip()]  # JSON logs: every line is an object
        running = [r for r in records if str(r.get("event", "")).startswith("signal-api: running")]
        assert running, "".join(seen)[-3000:]
        assert running[0]["url"] == f"http://127.0.0.1:{port}/graphql"
        assert f"the market replayed from {cassette}" in running[0]["event"]
    finally:
        watchdog.cancel()
        process.terminate()
        if process.stderr is not None:
            process.stderr.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
