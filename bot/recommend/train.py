"""Train the recommender from the store when its data or settings changed; hand out the saved model."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.recommend import content, interactions
from bot.recommend.interactions import Catalog
from bot.recommend.model import (
    DEFAULT_CONFIG,
    FORMAT,
    MANIFEST,
    Recommender,
    RecommenderConfig,
    saved_fingerprint,
)
from bot.store.db import session_scope
from bot.store.recommendations import signature

logger = logging.getLogger(__name__)

MODEL_DIR = "recommender"


def model_dir(models_dir: Path) -> Path:
    """Where the recommender lives among the models."""
    return models_dir / MODEL_DIR


def fingerprint(s: Session, config: RecommenderConfig) -> str:
    """Changes whenever training would: the store's order data, the settings or the model format."""
    inputs = json.dumps({"format": FORMAT, "config": asdict(config), "data": signature(s)}, sort_keys=True)
    return hashlib.sha256(inputs.encode()).hexdigest()[:16]


def train_if_stale(engine: Engine, models_dir: Path, config: RecommenderConfig = DEFAULT_CONFIG,
                   force: bool = False) -> Path:
    """The folder of a model of the store as it is now; trains one first when the saved one is stale."""
    directory = model_dir(models_dir)
    with session_scope(engine) as session:
        current = fingerprint(session, config)
        if saved_fingerprint(directory) == current and not force:
            logger.info("Recommender %s is up to date; not training.", current)
            return directory
        catalog, purchases = interactions.from_store(session)
    if not catalog.names:
        raise ValueError("the store has no products to recommend; seed it first (tandem seed-demo)")
    logger.info("Training recommender %s on %d customers x %d products.", current, *purchases.shape)
    model = Recommender.fit(catalog, purchases, _embeddings(catalog, config, directory), config)
    model.save(directory, current)
    return directory


def _embeddings(catalog: Catalog, config: RecommenderConfig, directory: Path) -> np.ndarray:
    """Vectors of the catalog's texts, reusing the saved model's for texts it embedded with this encoder."""
    known: dict[str, np.ndarray] = {}
    try:
        previous = Recommender.load(directory)
        if previous.config.encoder == config.encoder:
            known = dict(zip(previous.text_keys, previous.embeddings, strict=True))
    except (OSError, ValueError, KeyError):
        pass  # no usable model yet: embed everything
    keys = [content.text_key(text) for text in catalog.texts]
    missing = {key: text for key, text in zip(keys, catalog.texts, strict=True) if key not in known}
    if missing:
        known.update(zip(missing, content.embed(list(missing.values()), config.encoder), strict=True))
    return np.stack([known[key] for key in keys])


def current(models_dir: Path) -> Recommender | None:
    """The saved model, reloaded when it changes on disk; None (logged) when there is no usable one."""
    manifest = model_dir(models_dir) / MANIFEST
    try:
        return _load(manifest.parent, manifest.stat().st_mtime_ns)
    except (OSError, ValueError, KeyError) as error:
        logger.warning("No usable recommender model in %s (%s); suggesting best sellers instead. "
                       "Run `tandem recommend train`.", manifest.parent, error)
        return None


@lru_cache(maxsize=1)
def _load(directory: Path, stamp: int) -> Recommender:
    """The model in `directory` as it was at modification time `stamp` (the cache key)."""
    return Recommender.load(directory)
