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
