"""Train the Rasa model only when its inputs changed: models are named by a fingerprint of those inputs."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

TRAINING_INPUTS = ("config.yml", "domain.yml", "data", "bot/nlu", "requirements/lock.txt")
MODEL_PREFIX = "tandem-"
MODELS_KEPT = 3


def fingerprint(root: Path) -> str:
    """Hash of every training input's path and content; changes whenever training would change."""
    digest = hashlib.sha256()
    for entry in TRAINING_INPUTS:
        path = root / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.exists() and "__pycache__" not in file.parts:
                digest.update(file.relative_to(root).as_posix().encode() + b"\0")
                digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def model_path(root: Path, models_dir: Path) -> Path:
    """The archive that a model trained on the current inputs has (or would have)."""
    return models_dir / f"{MODEL_PREFIX}{fingerprint(root)}.tar.gz"


def train_if_stale(root: Path, models_dir: Path, force: bool = False) -> Path:
    """Return the model for the current inputs, training it with `rasa train` first if it is missing."""
    target = model_path(root, models_dir)
    if target.exists() and not force:
        logger.info("Model %s is up to date; not training.", target.name)
        return target
    logger.info("Training %s (inputs changed since the last model).", target.name)
    command = [
        sys.executable, "-m", "rasa", "train", "--config", "config.yml", "--domain", "domain.yml",
        "--data", "data", "--out", str(models_dir), "--fixed-model-name", target.name[: -len(".tar.gz")],
    ]
    subprocess.run(command, cwd=root, check=True)
    _prune(models_dir, keep=target)
    return target


def _prune(models_dir: Path, keep: Path) -> None:
    """Delete all but the newest few Tandem models, never the one just trained."""
    models = sorted(models_dir.glob(f"{MODEL_PREFIX}*.tar.gz"), key=lambda p: p.stat().st_mtime)
    for old in [m for m in models if m != keep][: max(0, len(models) - MODELS_KEPT)]:
        old.unlink()
