"""Recommender benchmark on UCI Online Retail: our model against popularity and plain item-kNN.

  python bench/recommend.py [../shared/datasets/online-retail]
Each customer's last basket is held out; the three models are trained on the rest in this run and scored
on the products of that basket the customer had not bought before (bought ones are never recommended).
Results go to bench/results/recommend.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import machine  # noqa: E402
from bot.recommend import collaborative, content  # noqa: E402
from bot.recommend.evaluation import Split, leave_last_basket_out, metrics, top_k  # noqa: E402
from bot.recommend.interactions import read_online_retail  # noqa: E402
from bot.recommend.model import DEFAULT_CONFIG, Recommender  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "online-retail"
K = 10
Scorer = Callable[[sp.csr_matrix], np.ndarray]
Fitted = tuple[Scorer, dict[str, float]]  # the scorer, and any timings of training's parts


def popularity(split: Split) -> Fitted:
    counts = collaborative.popularity(split.train)
    return (lambda profiles: np.tile(counts, (profiles.shape[0], 1))), {}


def item_knn(split: Split) -> Fitted:
    weights = collaborative.cosine(split.train)
    return (lambda profiles: profiles @ weights), {}


def ours(split: Split) -> Fitted:
    """EASE plus product-text similarity; training includes embedding every product description."""
    vectors, embed_seconds = timed(lambda: content.embed(split.catalog.texts, DEFAULT_CONFIG.encoder))
    return Recommender.fit(split.catalog, split.train, vectors, DEFAULT_CONFIG).score, {
        "of_which_embed_seconds": embed_seconds}


def timed(work: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = work()
    return result, round(time.perf_counter() - start, 2)


def run(name: str, fit: Callable[[Split], Fitted], split: Split) -> dict:
    """Train one model, score the evaluated customers and measure its top-K lists."""
    (scorer, parts), train_seconds = timed(lambda: fit(split))
    profiles = split.train[split.rows]
    scores, score_seconds = timed(lambda: scorer(profiles))
    result = {**metrics(top_k(scores, profiles, K), split.targets, len(split.catalog.ids)),
              "train_seconds": train_seconds, **parts, "score_seconds": score_seconds}
    print(name, json.dumps(result), flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", default=DEFAULT_DATA,
                        help="folder holding online_retail.csv.gz")
    args = parser.parse_args()
    host = machine()
    purchases, read_seconds = timed(lambda: read_online_retail(args.data / "online_retail.csv.gz"))
    split = leave_last_basket_out(purchases)
    runs = {name: run(name, fit, split)
            for name, fit in (("popularity", popularity), ("item_knn_cosine", item_knn), ("ours", ours))}
    ndcg = f"ndcg@{K}"
    result = {
        "dataset": "UCI Online Retail (online_retail.csv.gz)",
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": host,
        "protocol": {"held_out": "each customer's last basket (invoice) by time", "k": K,
                     "already_bought": "never recommended and not counted as targets",
                     "purchases": len(purchases), "read_seconds": read_seconds,
                     "customers": split.train.shape[0], "products": len(split.catalog.ids),
                     "evaluated_customers": len(split.rows)},
        "ours": {"model": "EASE + product-text similarity", "l2": DEFAULT_CONFIG.l2,
                 "content_weight": DEFAULT_CONFIG.content_weight,
                 "encoder": DEFAULT_CONFIG.encoder or "all-MiniLM-L6-v2 (packaged)"},
        "runs": runs,
        f"{ndcg}_ratio_ours_to_popularity": round(runs["ours"][ndcg] / runs["popularity"][ndcg], 2),
        f"{ndcg}_ratio_ours_to_item_knn": round(runs["ours"][ndcg] / runs["item_knn_cosine"][ndcg], 2),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "recommend.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
