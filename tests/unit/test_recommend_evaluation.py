"""The offline protocol on a log small enough to check by hand: reading, the split, the metrics."""

from __future__ import annotations

import gzip
from datetime import datetime

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from bot.recommend.evaluation import leave_last_basket_out, metrics, top_k
from bot.recommend.interactions import Purchase, read_online_retail

OPENING = datetime(2010, 12, 1, 8, 26)
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
ROWS = [
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom",
    "C536379,71053,WHITE METAL LANTERN,-1,2010-12-01 09:41:00,3.39,17850,United Kingdom",  # cancellation
    "536370,POST,POSTAGE,3,2010-12-01 08:45:00,18.00,12583,France",  # postage, not a product
    "536414,22139,RETROSPOT TEA SET,56,2010-12-01 11:52:00,0.00,,United Kingdom",  # unknown customer
    "536420,22139,RETROSPOT TEA SET,-2,2010-12-01 12:03:00,0.00,12583,France",  # negative quantity
    '536421,22633,"HAND WARMER, UNION JACK",6,2010-12-01 12:10:00,1.85,12583,France',
]


def purchase(customer: str, basket: str, item: str, day: int) -> Purchase:
    return Purchase(customer, basket, item, datetime(2011, 1, day), f"item {item}")


def test_read_online_retail_keeps_real_purchases_of_known_customers(tmp_path) -> None:
    path = tmp_path / "online_retail.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(HEADER + "\n".join(ROWS) + "\n")
    assert read_online_retail(path) == [
        Purchase("17850", "536365", "85123A", OPENING, "WHITE HANGING HEART T-LIGHT HOLDER"),
        Purchase("17850", "536365", "71053", OPENING, "WHITE METAL LANTERN"),
        Purchase("12583", "536421", "22633", datetime(2010, 12, 1, 12, 10), "HAND WARMER, UNION JACK"),
    ]


def test_the_last_basket_by_time_is_held_out_and_only_new_products_count() -> None:
    split = leave_last_basket_out([
        purchase("ann", "b2", "tea", 5), purchase("ann", "b1", "cup", 1), purchase("ann", "b2", "cup", 5),
        purchase("ann", "b3", "pot", 3),
        purchase("ben", "b4", "cup", 1), purchase("ben", "b5", "cup", 2),  # nothing new: not evaluated
        purchase("cat", "b6", "pot", 1),  # one basket: training only
    ])
    items = {item: index for index, item in enumerate(["tea", "cup", "pot"])}
    assert split.catalog.ids.tolist() == [0, 1, 2]
    assert split.catalog.texts == ["item tea", "item cup", "item pot"]
    assert split.train.shape == (3, 3) and split.rows.tolist() == [0]
    assert split.train.toarray().tolist() == [[0, 1, 1], [0, 1, 0], [0, 0, 1]]
    assert split.targets == [{items["tea"]}]


def test_top_k_never_lists_what_was_bought() -> None:
    scores = np.array([[0.9, 0.5, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]])
    bought = np.array([[1, 0, 0, 0], [0, 0, 0, 1]])
    assert top_k(scores, csr_matrix(bought), 2).tolist() == [[2, 1], [2, 1]]


def test_metrics_by_hand() -> None:
    top = np.array([[3, 1], [0, 2], [4, 5]])
    result = metrics(top, [{1}, {0, 2}, {9}], n_items=10)
    assert result["hr@2"] == pytest.approx(2 / 3)
    ndcg_first = (1 / np.log2(3)) / 1.0
    assert result["ndcg@2"] == pytest.approx((ndcg_first + 1.0 + 0.0) / 3)
    assert result["coverage"] == pytest.approx(6 / 10)
