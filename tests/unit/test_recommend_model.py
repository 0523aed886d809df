"""The recommender on a tiny shop whose right answers are obvious: tea things go together, camping things
go together, and a camping lamp nobody has bought yet is only known by its text."""

from __future__ import annotations

import numpy as np
import pytest

from bot.recommend import collaborative
from bot.recommend.interactions import Catalog, matrix
from bot.recommend.model import FORMAT, MANIFEST, Reason, Recommender, RecommenderConfig, saved_fingerprint

KETTLE, TEAPOT, MUG, TENT, SLEEPING_BAG, LAMP = 11, 12, 13, 14, 15, 16
NAMES = {KETTLE: "Kettle", TEAPOT: "Teapot", MUG: "Mug", TENT: "Tent", SLEEPING_BAG: "Sleeping Bag",
         LAMP: "Camping Lamp"}
PURCHASES = {  # customer -> products; nobody has bought the lamp
    "ann": [KETTLE, TEAPOT, MUG],
    "ben": [KETTLE, TEAPOT],
    "cat": [KETTLE, TEAPOT, MUG],
    "dan": [TENT, SLEEPING_BAG],
    "eve": [TENT, SLEEPING_BAG],
}
VECTORS = {  # kitchen along the first axis, camping along the second
    KETTLE: [1.0, 0.0, 0.0], TEAPOT: [0.9, 0.1, 0.0], MUG: [0.8, 0.0, 0.2],
    TENT: [0.0, 1.0, 0.0], SLEEPING_BAG: [0.0, 0.9, 0.1], LAMP: [0.1, 0.9, 0.0],
}
CONFIG = RecommenderConfig(l2=1.0, content_weight=0.1)


@pytest.fixture(scope="module")
def shop() -> tuple[Catalog, np.ndarray]:
    ids = np.array(list(NAMES), np.int64)
    catalog = Catalog(ids, list(NAMES.values()), [f"{name} text" for name in NAMES.values()])
    vectors = np.array([VECTORS[int(pid)] for pid in ids], np.float32)
    return catalog, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def model(shop) -> Recommender:
    catalog, vectors = shop
    bought, _ = matrix([(c, p) for c, products in PURCHASES.items() for p in products], catalog.ids)
    return Recommender.fit(catalog, bought, vectors, CONFIG)


def names(recommendations) -> list[str]:
    return [NAMES[r.product_id] for r in recommendations]


def test_matrix_is_binary_customers_by_catalog_and_drops_unknown_products(shop) -> None:
    catalog, _ = shop
    bought, customers = matrix([("ann", KETTLE), ("ann", KETTLE), ("ben", MUG), ("ben", 999)], catalog.ids)
    assert customers == ["ann", "ben"]
    assert bought.toarray().tolist() == [[1, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0]]


def test_ease_and_cosine_link_products_bought_together(shop) -> None:
    catalog, _ = shop
    bought, _ = matrix([(c, p) for c, products in PURCHASES.items() for p in products], catalog.ids)
    for weights in (collaborative.ease(bought, l2=1.0), collaborative.cosine(bought)):
        assert np.all(np.diag(weights) == 0)
        assert weights[0].argmax() == 1  # kettle -> teapot
        assert weights[3].argmax() == 4  # tent -> sleeping bag
        assert weights[0, 3] <= 0 < weights[0, 1]
    assert collaborative.cosine(bought)[0, 1] == pytest.approx(1.0)  # every kettle buyer bought a teapot
    assert collaborative.popularity(bought).tolist() == [3, 3, 2, 2, 2, 0]


def test_what_goes_with_a_kettle_is_tea_things_then_never_what_is_owned(model) -> None:
    recommendations = model.recommend([KETTLE], limit=3)
    assert names(recommendations)[:2] == ["Teapot", "Mug"]
    assert recommendations[0].reason == Reason("bought_with", "Kettle")
    assert recommendations[0].reason.text() == "often bought with Kettle"
    assert [r.score for r in recommendations] == sorted((r.score for r in recommendations), reverse=True)
    assert KETTLE not in [r.product_id for r in model.recommend([KETTLE], limit=6)]


def test_excluded_and_unavailable_products_are_left_out(model) -> None:
    assert names(model.recommend([KETTLE], exclude={TEAPOT}, limit=1)) == ["Mug"]
    assert names(model.recommend([KETTLE], allowed={MUG, TENT}, limit=3)) == ["Mug", "Tent"]
    assert model.recommend([KETTLE], allowed=set(), limit=3) == []


def test_a_product_nobody_bought_yet_is_found_by_its_text(model) -> None:
    recommendations = model.recommend([TENT], limit=2)
    assert names(recommendations) == ["Sleeping Bag", "Camping Lamp"]
    assert recommendations[0].reason == Reason("bought_with", "Tent")
    assert recommendations[1].reason == Reason("similar_to", "Tent")


def test_reason_names_the_bought_product_that_contributed_most(model) -> None:
    (lamp,) = model.recommend([KETTLE, SLEEPING_BAG], allowed={LAMP})
    assert lamp.reason == Reason("similar_to", "Sleeping Bag")
    (teapot,) = model.recommend([KETTLE, SLEEPING_BAG], allowed={TEAPOT})
    assert teapot.reason == Reason("bought_with", "Kettle")


def test_a_customer_with_nothing_the_model_knows_gets_nothing(model) -> None:
    assert model.recommend([]) == []
    assert model.recommend([999]) == []


def test_text_query_ranks_by_vector_and_says_what_it_matched(model) -> None:
    query = np.array([0.05, 1.0, 0.0], np.float32)
    recommendations = model.similar_to_text(query, "camping stove", exclude={TENT}, limit=2)
    assert names(recommendations) == ["Camping Lamp", "Sleeping Bag"]
    assert {r.reason.text() for r in recommendations} == {"similar to camping stove"}


def test_scores_for_many_customers_at_once_match_one_at_a_time(model) -> None:
    profiles = np.zeros((2, 6), np.float32)
    profiles[0, [0]] = profiles[1, [3, 4]] = 1
    scores = model.score(profiles)
    assert scores.shape == (2, 6)
    assert scores[0, 1] == pytest.approx(model.recommend([KETTLE], limit=1)[0].score)
    assert scores[1, 5] > scores[1, :3].max()  # after tent and sleeping bag: the lamp, not tea things


def test_model_round_trips_through_files(model, tmp_path) -> None:
    model.save(tmp_path, "abc123")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc123.npz", MANIFEST]
    assert saved_fingerprint(tmp_path) == "abc123"
    loaded = Recommender.load(tmp_path)
    assert loaded.config == CONFIG and loaded.names == model.names and loaded.text_keys == model.text_keys
    assert np.array_equal(loaded.weights, model.weights)
    assert np.array_equal(loaded.embeddings, model.embeddings)
    assert loaded.recommend([KETTLE, TENT], limit=6) == model.recommend([KETTLE, TENT], limit=6)
    model.save(tmp_path, "def456")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["def456.npz", MANIFEST]


def test_missing_incomplete_or_old_models_are_not_loaded(model, tmp_path) -> None:
    assert saved_fingerprint(tmp_path) is None
    with pytest.raises(FileNotFoundError):
        Recommender.load(tmp_path)
    model.save(tmp_path, "abc123")
    (tmp_path / "abc123.npz").unlink()
    assert saved_fingerprint(tmp_path) is None
    model.save(tmp_path, "abc123")
    manifest = tmp_path / MANIFEST
    manifest.write_text(manifest.read_text().replace(f'"format": {FORMAT}', '"format": 0'))
    with pytest.raises(ValueError):
        Recommender.load(tmp_path)
