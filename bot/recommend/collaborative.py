"""Item-to-item weights learnt from a customers × products purchase matrix, and plain popularity."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def ease(purchases: sp.spmatrix, l2: float) -> np.ndarray:
    """EASE (Steck 2019): the item-item weights B, zero diagonal, that best rebuild each customer's row from
    their other purchases under an L2 penalty; closed form B = I - P / diag(P), P = (XᵀX + l2·I)⁻¹."""
    gram = (purchases.T @ purchases).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += l2
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)[np.newaxis, :]
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


def cosine(purchases: sp.spmatrix) -> np.ndarray:
    """Plain item-kNN weights: the cosine of two products' buyer vectors, zero diagonal."""
    gram = (purchases.T @ purchases).toarray().astype(np.float64)
    norms = np.sqrt(np.diag(gram))
    norms[norms == 0] = 1.0
    weights = gram / norms[:, np.newaxis] / norms[np.newaxis, :]
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


def popularity(purchases: sp.spmatrix) -> np.ndarray:
    """How many customers bought each product."""
    return np.asarray((purchases > 0).sum(axis=0), dtype=np.float32).ravel()
