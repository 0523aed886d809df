"""The recommender: EASE over purchases blended with text similarity, each suggestion with its reason."""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp

from bot.recommend import collaborative
from bot.recommend.content import text_key
from bot.recommend.interactions import Catalog

FORMAT = 1
MANIFEST = "model.json"
REASON_TEXTS = {"bought_with": "often bought with {}", "similar_to": "similar to {}",
                "popular_in": "popular in {}"}


@dataclass(frozen=True)
class RecommenderConfig:
    """Settings of a model; any change makes a saved model stale."""

    l2: float = 500.0  # EASE's penalty: larger shrinks the weights of rarely bought products more
    content_weight: float = 0.1  # text similarity next to purchases, both scaled to 1 per customer
    encoder: str | None = None  # a local Hugging Face checkpoint; None: the packaged all-MiniLM-L6-v2


DEFAULT_CONFIG = RecommenderConfig()


@dataclass(frozen=True)
class Reason:
    kind: Literal["bought_with", "similar_to", "popular_in"]
    about: str

    def text(self) -> str:
        """'often bought with X', 'similar to Y' or 'popular in <category>'."""
        return REASON_TEXTS[self.kind].format(self.about)


@dataclass(frozen=True)
class Recommendation:
    product_id: int
    score: float
    reason: Reason


def _scaled(scores: np.ndarray) -> np.ndarray:
    """Each row divided by its largest absolute value (rows of zeros stay zero)."""
    peak = np.abs(scores).max(axis=1, keepdims=True)
    return scores / np.where(peak > 0, peak, 1.0)


class Recommender:
    """Item-item weights and product vectors over one catalog; scores any set of bought products."""

    def __init__(self, config: RecommenderConfig, ids: np.ndarray, names: list[str], text_keys: list[str],
                 weights: np.ndarray, embeddings: np.ndarray) -> None:
        self.config, self.ids, self.names = config, ids, names
        self.text_keys, self.weights, self.embeddings = text_keys, weights, embeddings
        self.column = {int(pid): index for index, pid in enumerate(ids)}
        self.by_name = {name: int(pid) for name, pid in zip(names, ids, strict=True)}

    @classmethod
    def fit(cls, catalog: Catalog, purchases: sp.spmatrix, embeddings: np.ndarray,
            config: RecommenderConfig = DEFAULT_CONFIG) -> Recommender:
        """Learn from a customers × catalog purchase matrix; `embeddings` are the catalog texts' vectors."""
        weights = collaborative.ease(purchases, config.l2)
        return cls(config, catalog.ids, catalog.names, [text_key(text) for text in catalog.texts], weights,
                   embeddings.astype(np.float32))

    def product_id(self, name: str) -> int | None:
        """The id of the product with this exact name, if the model knows it."""
        return self.by_name.get(name)

    # --- scoring ----------------------------------------------------------------------------

    def components(self, profiles: sp.spmatrix | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row of bought products (customers × catalog): the purchase score and the text similarity
        to what they bought, each scaled to at most 1."""
        bought = sp.csr_matrix(profiles, dtype=np.float32)
        return _scaled(bought @ self.weights), _scaled((bought @ self.embeddings) @ self.embeddings.T)

    def score(self, profiles: sp.spmatrix | np.ndarray) -> np.ndarray:
        """One row of scores over the catalog per row of bought products."""
        collab, content = self.components(profiles)
        return collab + self.config.content_weight * content

    def recommend(self, history: Sequence[int], *, exclude: Collection[int] = (),
                  allowed: Collection[int] | None = None, limit: int = 3) -> list[Recommendation]:
        """The best products for someone who bought `history` (product ids), each with its reason; never
        one of `history` or `exclude`, only ones in `allowed` (when given)."""
        bought = sorted({self.column[pid] for pid in history if pid in self.column})
        if not bought:
            return []
        profile = np.zeros((1, len(self.ids)), np.float32)
        profile[0, bought] = 1.0
        collab, content = (row[0] for row in self.components(profile))
        scores = collab + self.config.content_weight * content
        best = self._best(scores, {*history, *exclude}, allowed, limit)
        return [Recommendation(int(self.ids[i]), float(scores[i]), self._reason(bought, i, collab[i],
                                                                                 content[i]))
                for i in best]

    def similar_to_text(self, vector: np.ndarray, about: str, *, exclude: Collection[int] = (),
                        allowed: Collection[int] | None = None, limit: int = 3) -> list[Recommendation]:
        """Products whose text is closest to a query's vector (a product the catalog does not have)."""
        scores = self.embeddings @ vector.astype(np.float32)
        return [Recommendation(int(self.ids[i]), float(scores[i]), Reason("similar_to", about))
                for i in self._best(scores, set(exclude), allowed, limit)]

    def _best(self, scores: np.ndarray, exclude: set[int], allowed: Collection[int] | None,
              limit: int) -> list[int]:
        """Columns of the `limit` highest scores among the permitted products, best first."""
        permitted = np.array([int(pid) not in exclude and (allowed is None or int(pid) in allowed)
                              for pid in self.ids], dtype=bool)
        order = np.argsort(-np.where(permitted, scores, -np.inf), kind="stable")
        return [int(i) for i in order[:limit] if permitted[i]]

    def _reason(self, bought: list[int], item: int, collab: float, content: float) -> Reason:
        """Whichever part scored the product higher, with the bought product that contributed most."""
        if collab > 0 and collab >= self.config.content_weight * content:
            source = bought[int(np.argmax(self.weights[bought, item]))]
            return Reason("bought_with", self.names[source])
        source = bought[int(np.argmax(self.embeddings[bought] @ self.embeddings[item]))]
        return Reason("similar_to", self.names[source])

    # --- persistence ------------------------------------------------------------------------

    def save(self, directory: Path, fingerprint: str) -> None:
        """Write `<fingerprint>.npz` (arrays) and then `model.json` (settings, names, pointer to the arrays),
        each atomically, so that a reader sees the old model or the new one; older arrays are removed."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays = directory / f"{fingerprint}.npz"
        with open(arrays.with_suffix(".tmp"), "wb") as handle:
            np.savez(handle, ids=self.ids, weights=self.weights, embeddings=self.embeddings)
        os.replace(arrays.with_suffix(".tmp"), arrays)
        manifest = {"format": FORMAT, "fingerprint": fingerprint, "arrays": arrays.name,
                    "config": asdict(self.config), "names": self.names, "text_keys": self.text_keys}
        (directory / f"{MANIFEST}.tmp").write_text(json.dumps(manifest))
        os.replace(directory / f"{MANIFEST}.tmp", directory / MANIFEST)
        for old in directory.glob("*.npz"):
            if old != arrays:
                old.unlink()

    @classmethod
    def load(cls, directory: Path) -> Recommender:
        """The model saved in `directory`: FileNotFoundError if none, ValueError if of an older format."""
        manifest = json.loads((directory / MANIFEST).read_text())
        if manifest.get("format") != FORMAT:
            raise ValueError(f"{directory / MANIFEST} has format {manifest.get('format')}, not {FORMAT}")
        with np.load(directory / manifest["arrays"]) as arrays:
            return cls(RecommenderConfig(**manifest["config"]), arrays["ids"], manifest["names"],
                       manifest["text_keys"], arrays["weights"], arrays["embeddings"])


def saved_fingerprint(directory: Path) -> str | None:
    """The fingerprint of the model saved in `directory` (reads only the small manifest); None if none."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return manifest.get("fingerprint") if (directory / manifest.get("arrays", "")).is_file() else None
