"""Rasa's own checks on the project: data validation without warnings, test stories pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from bot.settings import PROJECT_ROOT
from bot.training import train_if_stale

TIMEOUT_S = 900


def rasa(*args: str) -> subprocess.CompletedProcess[str]:
    """A rasa command; story replays run without the action server (bot/policies/service_failure.py)."""
    return subprocess.run([sys.executable, "-m", "rasa", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=TIMEOUT_S, env={**os.environ, "TANDEM_STORY_EVALUATION": "1"})


def test_data_validates_without_a_single_warning() -> None:
    result = rasa("data", "validate", "--domain", "domain.yml", "--data", "data", "--fail-on-warnings")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "UserWarning" not in output, output[-4000:]


def test_every_intent_has_forty_examples_and_a_test_story() -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    examples = load_data(str(PROJECT_ROOT / "data" / "nlu")).number_of_examples_per_intent
    assert {i: n for i, n in examples.items() if n < 40} == {}
    stories = (PROJECT_ROOT / "tests" / "stories" / "test_stories.yml").read_text()
    assert [i for i in domain["intents"] if f"intent: {i}\n" not in stories] == []
    assert [f for f in domain["forms"] if f"active_loop: {f}\n" not in stories] == []


def test_core_test_stories_pass(tmp_path: Path) -> None:
    model = train_if_stale(PROJECT_ROOT, PROJECT_ROOT / "models")
    result = rasa("test", "core", "--model", str(model), "--stories", "tests/stories", "--out", str(tmp_path),
                  "--fail-on-prediction-errors")
    failed = tmp_path / "failed_test_stories.yml"
    report = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, report[-4000:] + result.stderr[-4000:]
    assert "story:" not in report
