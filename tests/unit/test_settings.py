"""Settings come from TANDEM_* variables with the embedded SQLite defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings


def test_defaults_put_everything_under_var(tmp_path: Path) -> None:
    settings = Settings.from_env({}, root=tmp_path)
    assert settings.db_url == f"sqlite:///{tmp_path / 'var' / 'tandem.db'}"
    assert settings.tracker_db == tmp_path / "var" / "tracker.db"
    assert (settings.rasa_port, settings.action_port) == (5005, 5055)
    assert settings.action_url == "http://127.0.0.1:5055/webhook"
    assert settings.server_env()["TANDEM_TRACKER_DB"] == str(tmp_path / "var" / "tracker.db")


def test_overrides(tmp_path: Path) -> None:
    settings = Settings.from_env({"TANDEM_ACTION_PORT": "6000", "TANDEM_RASA_PORT": "6001",
                                  "TANDEM_DB_URL": "postgresql://db/tandem", "TANDEM_VAR_DIR": "/data"},
                                 root=tmp_path)
    assert settings.action_url == "http://127.0.0.1:6000/webhook"
    assert settings.rasa_port == 6001 and settings.db_url == "postgresql://db/tandem"
    assert settings.tracker_db == Path("/data/tracker.db")


@pytest.mark.parametrize("port", ["abc", "0", "70000", "-1", ""])
def test_bad_ports_are_refused_with_the_variable_named(port: str) -> None:
    with pytest.raises(ValueError, match="TANDEM_RASA_PORT"):
        Settings.from_env({"TANDEM_RASA_PORT": port})


def test_rasa_gets_every_channel_and_scale_out_variable_with_its_default(tmp_path) -> None:
    settings = Settings.from_env({"TANDEM_VAR_DIR": str(tmp_path), "TANDEM_SLACK_TOKEN": "xoxb-1",
                                  "TANDEM_REDIS_HOST": "redis.internal"})
    env = settings.server_env()
    assert (env["TANDEM_SLACK_TOKEN"], env["TANDEM_TELEGRAM_TOKEN"]) == ("xoxb-1", "")  # "" = channel off
    assert (env["TANDEM_REDIS_HOST"], env["TANDEM_REDIS_PORT"], env["TANDEM_EVENTS_QUEUE"]) == (
        "redis.internal", "6379", "tandem_events")


def test_the_handoff_secret_is_generated_once_and_kept_private(tmp_path) -> None:
    settings = Settings.from_env({"TANDEM_VAR_DIR": str(tmp_path)})
    secret = settings.relay_secret()
    assert len(secret) >= 40 and settings.server_env()["TANDEM_HANDOFF_SECRET"] == secret
    assert Settings.from_env({"TANDEM_VAR_DIR": str(tmp_path)}).relay_secret() == secret
    assert (tmp_path / "handoff.secret").stat().st_mode & 0o077 == 0
    assert Settings.from_env({"TANDEM_HANDOFF_SECRET": "given"}).relay_secret() == "given"
