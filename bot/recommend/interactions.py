"""Who bought what, as a customers × products matrix: from the store, or from the UCI Online Retail log."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sqlalchemy.orm import Session

from bot.store import recommendations as store


@dataclass(frozen=True)
class Catalog:
    """The products a model knows, in its column order: ids, names and the texts that describe them."""

    ids: np.ndarray
    names: list[str]
    texts: list[str]


def matrix(pairs: Iterable[tuple[object, int]], item_ids: np.ndarray) -> tuple[sp.csr_matrix, list[object]]:
    """A binary customers × items matrix, unknown items dropped, and its customers (in row order)."""
    column = {int(item): index for index, item in enumerate(item_ids)}
    rows: dict[object, int] = {}
    r, c = [], []
    for customer, item in pairs:
        if item in column:
            r.append(rows.setdefault(customer, len(rows)))
            c.append(column[item])
    bought = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(len(rows), len(item_ids)))
    bought.data[:] = 1.0  # bought twice is bought
    return bought, list(rows)


def from_store(s: Session) -> tuple[Catalog, sp.csr_matrix]:
    """The store's catalog and its purchase matrix (orders not cancelled, accepted suggestions)."""
    entries = store.catalog(s)
    catalog = Catalog(np.array([e.id for e in entries], np.int64), [e.name for e in entries],
                      [e.text for e in entries])
    return catalog, matrix(store.interactions(s), catalog.ids)[0]


class Purchase(NamedTuple):
    customer: str
    basket: str
    item: str
    at: datetime
    description: str


def read_online_retail(path: Path) -> list[Purchase]:
    """Purchases in `online_retail.csv.gz` (UCI Online Retail): known customers, positive quantities, no
    cancellations (invoices 'C…'), real products only (postage, fees and manual lines have letter codes)."""
    purchases = []
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if (row["CustomerID"] and row["StockCode"][:1].isdigit() and not row["InvoiceNo"].startswith("C")
                    and int(row["Quantity"]) > 0):
                purchases.append(Purchase(row["CustomerID"], row["InvoiceNo"], row["StockCode"],
                                          datetime.fromisoformat(row["InvoiceDate"]),
                                          row["Description"].strip()))
    return purchases
