"""A model is trained when its inputs change, and only then."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bot import training
from bot.settings import PROJECT_ROOT


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    for name in ("config.yml", "domain.yml", "data"):
        source = PROJECT_ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    return tmp_path


def test_fingerprint_follows_training_inputs_only(project: Path) -> None:
    first = training.fingerprint(project)
    (project / "README.md").write_text("not a training input")
    assert training.fingerprint(project) == first
    with (project / "data" / "nlu" / "inform.yml").open("a") as nlu:
        nlu.write("    - 10999 is the one\n")
    assert training.fingerprint(project) != first


def test_current_model_is_not_retrained(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = project / "models"
    models.mkdir()
    current = training.model_path(project, models)
    current.write_bytes(b"model")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("rasa train must not run for an up-to-date model")

    monkeypatch.setattr(subprocess, "run", refuse)
    assert training.train_if_stale(project, models) == current


def test_stale_model_is_trained_under_the_new_fingerprint(project: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    models = project / "models"
    models.mkdir()
    calls: list[list[str]] = []

    def fake_rasa_train(command: list[str], **kwargs: object) -> None:
        calls.append(command)
        name = command[command.index("--fixed-model-name") + 1]
        (models / f"{name}.tar.gz").write_bytes(b"model")

    monkeypatch.setattr(subprocess, "run", fake_rasa_train)
    for n in range(5):
        (project / "config.yml").write_text(f"# version {n}\n" + (PROJECT_ROOT / "config.yml").read_text())
        assert training.train_if_stale(project, models) == training.model_path(project, models)
    assert len(calls) == 5
    assert len(list(models.glob("tandem-*.tar.gz"))) == training.MODELS_KEPT
