"""Offline evaluation: hold out each customer's last basket, score top-k lists by HR, NDCG and coverage."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from bot.recommend.interactions import Catalog, Purchase, matrix


@dataclass(frozen=True)
class Split:
    """Training purchases and, for each evaluated customer, the new products of their last basket."""

    catalog: Catalog  # every product of the log; ids are column numbers
    train: sp.csr_matrix  # customers × products: every basket but the evaluated customers' last ones
    rows: np.ndarray  # the evaluated customers' rows of `train`
    targets: list[set[int]]  # per evaluated customer: products of the last basket not bought before


def leave_last_basket_out(purchases: Sequence[Purchase]) -> Split:
    """Each customer with two or more baskets (invoices) loses the latest by time to the test set; they are
    evaluated when it holds a product they had not bought before, and only on such products."""
    columns: dict[str, int] = {}
    descriptions: list[str] = []
    baskets: dict[str, dict[tuple, set[int]]] = defaultdict(lambda: defaultdict(set))
    for p in purchases:
        if p.item not in columns:
            columns[p.item] = len(columns)
            descriptions.append(p.description)
        baskets[p.customer][(p.at, p.basket)].add(columns[p.item])
    pairs, held_out = [], {}
    for customer, by_time in baskets.items():
        order = sorted(by_time)
        kept = order[:-1] if len(order) > 1 else order
        bought = set().union(*(by_time[key] for key in kept))
        pairs += [(customer, item) for item in bought]
        if len(order) > 1 and by_time[order[-1]] - bought:
            held_out[customer] = by_time[order[-1]] - bought
    ids = np.arange(len(columns), dtype=np.int64)
    train, customers = matrix(pairs, ids)
    row = {customer: index for index, customer in enumerate(customers)}
    evaluated = [c for c in customers if c in held_out]
    return Split(Catalog(ids, descriptions, descriptions), train, np.array([row[c] for c in evaluated]),
                 [held_out[c] for c in evaluated])


def top_k(scores: np.ndarray, bought: sp.spmatrix, k: int) -> np.ndarray:
    """Per row, the columns of the k best scores among products not bought yet, best first."""
    scores = np.array(scores, dtype=np.float64)
    scores[bought.nonzero()] = -np.inf
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def metrics(top: np.ndarray, targets: Sequence[set[int]], n_items: int) -> dict[str, float]:
    """HR@k (a hit among the top k), NDCG@k (binary relevance) and catalog coverage of top-k lists."""
    k = top.shape[1]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    hits = np.array([[item in target for item in row] for row, target in zip(top, targets, strict=True)])
    ideal = np.array([discounts[:min(len(target), k)].sum() for target in targets])
    return {f"hr@{k}": float(hits.any(axis=1).mean()),
            f"ndcg@{k}": float(((hits @ discounts) / ideal).mean()),
            "coverage": len(np.unique(top)) / n_items}
