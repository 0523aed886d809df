"""Training from the store: only when its orders or the settings changed, reusing product vectors; the
saved model is what the action server loads, and its absence is logged, not fatal."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from bot.cli import main
from bot.recommend import content, train
from bot.recommend.model import MANIFEST, Recommender, RecommenderConfig
from bot.store.db import create_schema, make_engine, session_scope
from bot.store.models import Order, OrderItem, Product
from bot.store.recommendations import record_feedback

NOW = datetime(2026, 3, 2, 12, 30)


def fake_embed(calls: list[list[str]]):
    """A stand-in for the encoder: a fixed random unit vector per text, each call's texts logged."""

    def embed(texts, checkpoint=None) -> np.ndarray:
        calls.append(list(texts))
        rows = [np.random.default_rng(int(content.text_key(t), 16)).normal(size=8) for t in texts]
        return np.array([row / np.linalg.norm(row) for row in rows], np.float32).reshape(len(texts), 8)

    return embed


def train_without_encoder(engine: Engine, models_dir: Path,
                          monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Train on the store with fake product vectors; returns the log of texts embedded (now and later)."""
    calls: list[list[str]] = []
    monkeypatch.setattr(content, "embed", fake_embed(calls))
    train.train_if_stale(engine, models_dir)
    return calls


@pytest.fixture
def models(tmp_path: Path) -> Path:
    return tmp_path / "models"


def test_first_training_embeds_every_product_and_saves_the_model(store, models, monkeypatch) -> None:
    calls = train_without_encoder(store.engine, models, monkeypatch)
    products = store.value("SELECT count(*) FROM products")
    assert [len(texts) for texts in calls] == [products]
    model = Recommender.load(train.model_dir(models))
    assert len(model.ids) == products and model.weights.shape == (products, products)
    with session_scope(store.engine) as s:
        assert (train.model_dir(models) / f"{train.fingerprint(s, RecommenderConfig())}.npz").is_file()


def test_a_current_model_is_not_trained_again(store, models, monkeypatch) -> None:
    calls = train_without_encoder(store.engine, models, monkeypatch)
    stamp = (train.model_dir(models) / MANIFEST).stat().st_mtime_ns

    def refuse(*args, **kwargs):
        raise AssertionError("an up-to-date model must not be trained")

    monkeypatch.setattr(Recommender, "fit", refuse)
    assert train.train_if_stale(store.engine, models) == train.model_dir(models)
    assert (train.model_dir(models) / MANIFEST).stat().st_mtime_ns == stamp and len(calls) == 1


def _retrains(store, models) -> bool:
    before = (train.model_dir(models) / MANIFEST).read_text()
    train.train_if_stale(store.engine, models)
    return (train.model_dir(models) / MANIFEST).read_text() != before


def test_new_orders_or_accepted_suggestions_make_it_stale_without_embedding_again(store, models,
                                                                                  monkeypatch) -> None:
    calls = train_without_encoder(store.engine, models, monkeypatch)
    with session_scope(store.engine) as s:
        s.add(OrderItem(order_id=10002, product_id=5, quantity=1, unit_price_cents=100))
    assert _retrains(store, models)
    with session_scope(store.engine) as s:
        record_feedback(s, sender_id="web-1", customer=3, product_ids=[4], accepted=False, now=NOW)
    assert not _retrains(store, models)  # declining changes no training data
    with session_scope(store.engine) as s:
        record_feedback(s, sender_id="web-1", customer=3, product_ids=[4], accepted=True, now=NOW)
    assert _retrains(store, models)
    with session_scope(store.engine) as s:
        s.get(Order, 10002).status = "cancelled"
    assert _retrains(store, models)
    assert len(calls) == 1  # the catalog's texts did not change


def test_a_new_product_is_embedded_alone(store, models, monkeypatch) -> None:
    calls = train_without_encoder(store.engine, models, monkeypatch)
    with session_scope(store.engine) as s:
        s.add(Product(sku="SKU-NEW", name="Nordwind Camping Stove", product_type="camping stove",
                      category="sports and outdoors", description="Boils water fast.", price_cents=4999,
                      stock=5))
    assert _retrains(store, models)
    assert len(calls) == 2 and len(calls[1]) == 1 and "Nordwind Camping Stove" in calls[1][0]
    model = Recommender.load(train.model_dir(models))
    assert model.product_id("Nordwind Camping Stove") is not None


def test_changed_settings_or_force_train_again(store, models, monkeypatch) -> None:
    calls = train_without_encoder(store.engine, models, monkeypatch)
    train.train_if_stale(store.engine, models, RecommenderConfig(l2=50.0))
    assert Recommender.load(train.model_dir(models)).config.l2 == 50.0
    train.train_if_stale(store.engine, models, RecommenderConfig(l2=50.0, encoder="/elsewhere"))
    assert len(calls) == 2  # another encoder: every text again
    stamp = (train.model_dir(models) / MANIFEST).stat().st_mtime_ns
    train.train_if_stale(store.engine, models, RecommenderConfig(l2=50.0, encoder="/elsewhere"), force=True)
    assert (train.model_dir(models) / MANIFEST).stat().st_mtime_ns != stamp


def test_an_empty_store_cannot_be_trained_on(tmp_path, models) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    create_schema(engine)
    with pytest.raises(ValueError, match="no products"):
        train.train_if_stale(engine, models)
    assert not train.model_dir(models).exists()
    engine.dispose()


def test_current_model_is_none_and_logged_when_missing_then_reloaded_after_training(
        store, models, monkeypatch, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.recommend.train"):
        assert train.current(models) is None
    assert "No usable recommender model" in caplog.text
    train_without_encoder(store.engine, models, monkeypatch)
    first = train.current(models)
    assert isinstance(first, Recommender) and train.current(models) is first
    train.train_if_stale(store.engine, models, force=True)
    assert train.current(models) is not first


def test_tandem_recommend_train_trains_once_and_refuses_an_empty_store(store, models, monkeypatch, tmp_path,
                                                                       capsys) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(content, "embed", fake_embed(calls))
    monkeypatch.setenv("TANDEM_MODELS_DIR", str(models))
    assert main(["recommend", "train"]) == 0 and main(["recommend", "train"]) == 0
    assert len(calls) == 1 and capsys.readouterr().out.splitlines() == [str(train.model_dir(models))] * 2
    monkeypatch.setenv("TANDEM_DB_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert main(["recommend", "train"]) == 2
    assert "no products" in capsys.readouterr().err
