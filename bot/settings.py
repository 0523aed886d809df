"""Runtime settings: environment variables with documented defaults (see docs/operations.md)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What credentials.yml and deploy/endpoints.scaled.yml read as ${NAME}, with the value Rasa gets when the
# variable is unset: "" turns a channel off; the scale-out services default to this machine's.
SERVER_VARIABLES: dict[str, str] = {
    **dict.fromkeys((
        "TANDEM_SLACK_TOKEN", "TANDEM_SLACK_SIGNING_SECRET", "TANDEM_SLACK_API_URL",
        "TANDEM_TELEGRAM_TOKEN", "TANDEM_TELEGRAM_BOT_NAME", "TANDEM_TELEGRAM_WEBHOOK_URL",
        "TANDEM_TELEGRAM_SECRET_TOKEN", "TANDEM_TELEGRAM_API_URL",
        "TANDEM_TWILIO_ACCOUNT_SID", "TANDEM_TWILIO_AUTH_TOKEN", "TANDEM_TWILIO_NUMBER",
        "TANDEM_TWILIO_WEBHOOK_URL", "TANDEM_VOICE_SECRET", "TANDEM_VOICE_TRANSFER_NUMBER",
        "TANDEM_SOCKETIO_REDIS_URL", "TANDEM_REDIS_PASSWORD"), ""),
    "TANDEM_REDIS_HOST": "127.0.0.1", "TANDEM_REDIS_PORT": "6379", "TANDEM_REDIS_DB": "1",
    "TANDEM_RABBITMQ_HOST": "127.0.0.1", "TANDEM_RABBITMQ_PORT": "5672",
    "TANDEM_RABBITMQ_USER": "guest", "TANDEM_RABBITMQ_PASSWORD": "guest",
    "TANDEM_EVENTS_QUEUE": "tandem_events",
}


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
    # Shared by the console and the handoff relay channel in Rasa; None: generated under var/ on first use.
    handoff_secret: str | None = None
    server_variables: Mapping[str, str] = field(default_factory=lambda: dict(SERVER_VARIABLES))
    rasa_url: str | None = None  # where the console reaches Rasa; None: this host's rasa_port
    secure_cookies: bool = False  # console cookies only over HTTPS (set behind a TLS proxy)
    # Where browsers reach Rasa's socket.io for the web chat widget; None: http://<host>:<rasa_port>.
    public_rasa_url: str | None = None

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
            handoff_secret=env.get("TANDEM_HANDOFF_SECRET") or None,
            server_variables={name: env.get(name, default) for name, default in SERVER_VARIABLES.items()},
            rasa_url=env.get("TANDEM_RASA_URL") or None,
            secure_cookies=env.get("TANDEM_CONSOLE_SECURE_COOKIES", "") in ("1", "true", "yes"),
            public_rasa_url=env.get("TANDEM_PUBLIC_RASA_URL") or None,
        )

    @property
    def tracker_store(self) -> str | Path:
        """Where the tracker store lives: its URL when one is set, else the SQLite file."""
        return self.tracker_url or self.tracker_db

    @property
    def rasa_base_url(self) -> str:
        """The Rasa server's URL as the console calls it."""
        return (self.rasa_url or f"http://127.0.0.1:{self.rasa_port}").rstrip("/")

    @property
    def widget_rasa_url(self) -> str:
        """The Rasa server's URL as the web chat widget in a customer's browser calls it."""
        return (self.public_rasa_url or f"http://{self.host}:{self.rasa_port}").rstrip("/")

    def server_env(self) -> dict[str, str]:
        """Variables that endpoints.yml and the action server read, resolved to concrete values."""
        return {
            "TANDEM_DB_URL": self.db_url,
            "TANDEM_TRACKER_DB": str(self.tracker_db),
            "TANDEM_TRACKER_URL": self.tracker_url or f"sqlite:///{self.tracker_db}",
            "TANDEM_ACTION_URL": self.action_url,
            "TANDEM_CONSOLE_PORT": str(self.console_port),
            "TANDEM_RASA_PORT": str(self.rasa_port),
            "TANDEM_HANDOFF_SECRET": self.relay_secret(),
            **self.server_variables,
            **({"TANDEM_WEBCHAT_SECRET": self.webchat_secret} if self.webchat_secret else {}),
            **({"TANDEM_PUBLIC_RASA_URL": self.public_rasa_url} if self.public_rasa_url else {}),
        }

    def relay_secret(self) -> str:
        """The console's key to the handoff relay: TANDEM_HANDOFF_SECRET, else one kept in var/."""
        if self.handoff_secret:
            return self.handoff_secret
        path = self.var_dir / "handoff.secret"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
        return path.read_text().strip()


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{name} must be a TCP port number (1-65535), got {raw!r}")
    return int(raw)
