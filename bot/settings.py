"""Runtime settings: environment variables with documented defaults (see docs/operations.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Where Tandem's servers listen and where its data lives."""

    root: Path
    var_dir: Path
    models_dir: Path
    db_url: str
    tracker_db: Path
    host: str
    rasa_port: int
    action_port: int
    action_url: str
    auth_token: str | None
    webchat_secret: str | None = None  # signs web chat login tokens (bot/store/identities.py); None: off
    console_port: int = 5006  # bot.console: analytics dashboard (and later the handoff console)
    # A SQLAlchemy URL for the tracker store instead of the `tracker_db` file (PostgreSQL: deploy/README.md).
    tracker_url: str | None = None
    endpoints: Path | None = None  # the Rasa endpoints file; None: endpoints.yml in the project root

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, root: Path = PROJECT_ROOT) -> Settings:
        """Read every TANDEM_* variable, falling back to the embedded SQLite defaults under var/."""
        var_dir = Path(env.get("TANDEM_VAR_DIR", root / "var"))
        action_port = _port(env, "TANDEM_ACTION_PORT", 5055)
        return cls(
            root=root,
            var_dir=var_dir,
            models_dir=Path(env.get("TANDEM_MODELS_DIR", root / "models")),
            db_url=env.get("TANDEM_DB_URL", f"sqlite:///{var_dir / 'tandem.db'}"),
            tracker_db=Path(env.get("TANDEM_TRACKER_DB", var_dir / "tracker.db")),
            host=env.get("TANDEM_HOST", "127.0.0.1"),
            rasa_port=_port(env, "TANDEM_RASA_PORT", 5005),
            action_port=action_port,
            action_url=env.get("TANDEM_ACTION_URL", f"http://127.0.0.1:{action_port}/webhook"),
            auth_token=env.get("TANDEM_RASA_TOKEN") or None,
            webchat_secret=env.get("TANDEM_WEBCHAT_SECRET") or None,
            console_port=_port(env, "TANDEM_CONSOLE_PORT", 5006),
            tracker_url=env.get("TANDEM_TRACKER_URL") or None,
            endpoints=Path(env.get("TANDEM_ENDPOINTS", root / "endpoints.yml")),
        )

    @property
    def tracker_store(self) -> str | Path:
        """Where the tracker store lives: its URL when one is set, else the SQLite file."""
        return self.tracker_url or self.tracker_db

    def server_env(self) -> dict[str, str]:
        """Variables that endpoints.yml and the action server read, resolved to concrete values."""
        return {
            "TANDEM_DB_URL": self.db_url,
            "TANDEM_TRACKER_DB": str(self.tracker_db),
            "TANDEM_TRACKER_URL": self.tracker_url or f"sqlite:///{self.tracker_db}",
            "TANDEM_ACTION_URL": self.action_url,
            "TANDEM_CONSOLE_PORT": str(self.console_port),
            **({"TANDEM_WEBCHAT_SECRET": self.webchat_secret} if self.webchat_secret else {}),
        }


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{name} must be a TCP port number (1-65535), got {raw!r}")
    return int(raw)
