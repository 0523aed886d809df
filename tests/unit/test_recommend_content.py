"""Product texts through the packaged sentence encoder: unit vectors, related products close together."""

from __future__ import annotations

import numpy as np

from bot.recommend import content


def test_embed_gives_unit_vectors_with_related_products_closest() -> None:
    texts = ["Wireless headphones with noise cancelling", "Bluetooth earbuds for music on the go",
             "Garden hose, 30 metres, for watering plants"]
    vectors = content.embed(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] and similarity[0, 1] > similarity[1, 2]
    assert np.allclose(content.embed(texts[:1]), vectors[:1], atol=1e-5)  # batching changes nothing
    assert content.embed([]).shape == (0, 384)


def test_text_key_is_stable_and_tells_texts_apart() -> None:
    assert content.text_key("Kettle") == content.text_key("Kettle") != content.text_key("Kettle.")
    assert len(content.text_key("Kettle")) == 16
