"""Start the action server and the Rasa server as child processes; wait until both answer; stop both."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bot.settings import Settings

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 20.0


@dataclass
class Servers:
    """The two running servers of one Tandem deployment."""

    settings: Settings
    model: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    log_dir: Path | None = None
    _logs: list[IO[bytes]] = field(default_factory=list)

    def start(self, log_dir: Path | None = None, names: Sequence[str] = ("actions", "rasa")) -> None:
        """Start the servers in order (`tandem run` adds "console"); return once all answer HTTP, or raise."""
        self.settings.tracker_db.parent.mkdir(parents=True, exist_ok=True)
        self.log_dir = log_dir
        for name in names:
            self._start(name)

    def halt(self, name: str) -> None:
        """Stop one server ('actions' or 'rasa'), as an outage would; `restart` brings it back."""
        proc = self.processes[name]
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=STOP_TIMEOUT_S)

    def restart(self, name: str) -> None:
        """Start a halted server again and wait until it answers."""
        self._start(name)

    def _start(self, name: str) -> None:
        command, ready_url = {
            "actions": (self._action_command(), f"http://127.0.0.1:{self.settings.action_port}/health"),
            "rasa": (self._rasa_command(), f"http://127.0.0.1:{self.settings.rasa_port}/"),
            "console": ([sys.executable, "-m", "bot.cli", "console"],
                        f"http://127.0.0.1:{self.settings.console_port}/analytics"),
        }[name]
        self._spawn(name, command, {**os.environ, **self.settings.server_env()}, self.log_dir)
        self._wait_ready(name, ready_url)

    def stop(self) -> None:
        """Send SIGTERM to every child and wait; kill the ones that do not exit in time."""
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for name, proc in self.processes.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in %.0f s; killing it", name, STOP_TIMEOUT_S)
                proc.kill()
                proc.wait()
        for log in self._logs:
            log.close()

    def wait(self) -> int:
        """Block until a child exits; return its exit code."""
        while True:
            for name, proc in self.processes.items():
                code = proc.poll()
                if code is not None:
                    logger.error("%s exited with code %s", name, code)
                    return code
            time.sleep(0.5)

    def _action_command(self) -> list[str]:
        return [sys.executable, "-m", "rasa_sdk", "--actions", "actions",
                "--port", str(self.settings.action_port)]

    def _rasa_command(self) -> list[str]:
        s = self.settings
        command = [
            sys.executable, "-m", "rasa", "run", "--model", str(self.model),
            "--endpoints", str(s.endpoints or s.root / "endpoints.yml"),
            "--credentials", str(s.root / "credentials.yml"),
            "--interface", s.host, "--port", str(s.rasa_port), "--enable-api", "--cors", "*",
        ]
        if s.auth_token:
            command += ["--auth-token", s.auth_token]
        return command

    def _spawn(self, name: str, command: Sequence[str], env: dict[str, str],
               log_dir: Path | None) -> None:
        output = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            mode = "ab" if name in self.processes else "wb"  # a restarted server continues its log
            output = open(log_dir / f"{name}.log", mode)  # closed in stop()
            self._logs.append(output)
        self.processes[name] = subprocess.Popen(
            command, cwd=self.settings.root, env=env, stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )

    def _wait_ready(self, name: str, url: str) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited with code {self.processes[name].returncode} "
                                   "while starting; see its log above")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        raise RuntimeError(f"{name} did not answer {url} within {STARTUP_TIMEOUT_S:.0f} s")
