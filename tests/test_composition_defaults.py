"""Defaults written once: the TTLs in providers/config.py, the locations in signal_api/paths.py, both
reaching the inner packages only through Settings (the composition root)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from persistence.config import HistoryConfig
from providers.config import CacheTtls
from signal_api.history_cli import history_config
from signal_api.paths import APP_DIR_NAME, default_data_dir, default_history_dir
from signal_api.settings import Settings

if TYPE_CHECKING:
    from pathlib import Path


def _settings(data_dir: Path | None = None) -> Settings:
    """Settings from the environment only (no ``.env``), with ``data_dir`` when given."""
    if data_dir is None:
        return Settings(_env_file=None)  # type: ignore[call-arg]
    return Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]


def test_ttl_settings_default_to_cache_ttls_and_override_field_by_field(monkeypatch: pytest.MonkeyPatch) -> None:
    for f in dataclasses.fields(CacheTtls):
        monkeypatch.delenv(f"TTL_{f.name.upper()}_SECONDS", raising=False)
    assert _settings().cache_ttls() == CacheTtls()
    # every field has its own setting: a distinct value per field comes back in that field only
    overrides = {f.name: 1000.0 + i for i, f in enumerate(dataclasses.fields(CacheTtls))}
    for name, value in overrides.items():
        monkeypatch.setenv(f"TTL_{name.upper()}_SECONDS", str(value))
    assert dataclasses.asdict(_settings().cache_ttls()) == overrides


def test_data_dir_defaults_follow_xdg_and_reach_the_history_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert default_data_dir({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / APP_DIR_NAME
    assert default_data_dir({}, home=tmp_path) == tmp_path / ".local" / "share" / APP_DIR_NAME
    assert default_data_dir({"XDG_DATA_HOME": ""}, home=tmp_path) == tmp_path / ".local" / "share" / APP_DIR_NAME

    monkeypatch.delenv("DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    settings = _settings()
    assert settings.data_dir == tmp_path / "xdg" / APP_DIR_NAME
    assert history_config(settings).data_dir == settings.data_dir
    assert history_config(_settings(data_dir=tmp_path / "mine")).data_dir == tmp_path / "mine"


def test_history_settings_default_to_the_history_config_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:  # none of the history's variables set: each takes its default
        monkeypatch.delenv(name.upper(), raising=False)
    settings = _settings()
    assert history_config(settings) == HistoryConfig(data_dir=settings.data_dir)
    monkeypatch.setenv("DB_POOL_MAX", "3")
    assert history_config(_settings()).pool_max == 3


def test_dedup_settings_reach_the_history_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNAL_DEDUP_SCORE_TOLERANCE", "1.25")
    monkeypatch.setenv("SIGNAL_DEDUP_WINDOW_SECONDS", "60")
    config = history_config(_settings())
    assert (config.dedup_score_tolerance, config.dedup_window_seconds) == (1.25, 60.0)


def test_history_dir_default_is_decided_by_the_composition_root(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("BACKTEST_HISTORY_DIR", raising=False)
    assert default_history_dir(tmp_path / "repo") == tmp_path / "shared" / "fixtures" / "history"
    assert _settings().backtest_history_dir == default_history_dir()
    assert default_history_dir().parts[-3:] == ("shared", "fixtures", "history")


def test_warm_connections_stay_within_the_host_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Asked for more warm connections than one host may have: refused at start-up, naming both settings;
    not asked: the default follows a lower host limit."""
    from pydantic import ValidationError

    from signal_api.settings import Settings

    monkeypatch.setenv("UPSTREAM_MAX_CONNECTIONS", "4")
    assert Settings(_env_file=None).upstream_warm_connections == 4  # type: ignore[call-arg]
    monkeypatch.setenv("UPSTREAM_WARM_CONNECTIONS", "5")
    with pytest.raises(
        ValidationError, match="UPSTREAM_WARM_CONNECTIONS \\(5\\) is over UPSTREAM_MAX_CONNECTIONS \\(4\\)"
    ):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("UPSTREAM_WARM_CONNECTIONS", "0")
    assert Settings(_env_file=None).upstream_warm_connections == 0  # type: ignore[call-arg]
