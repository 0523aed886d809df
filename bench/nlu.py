"""NLU benchmarks: Tandem's pipeline against Rasa's DIET, trained and scored in one run.

  python bench/nlu.py banking77 [--data ../shared/datasets/banking77]
  python bench/nlu.py product            (held-out 20 % of data/nlu)
Results go to bench/results/<name>.json with both pipelines' metrics and their ratios. `--pipelines`
runs a subset and keeps the other pipeline's last result; each run records when it started and the
machine's load then, and `same_run` names the pipelines measured in this invocation. `--tandem-seeds 7,8,9`
trains Tandem once per seed: the first seed's run is the one compared with DIET, and `tandem_over_seeds`
gives every seed's accuracy with their mean, since one fine-tuning seed can move accuracy by several
tenths of a point.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import machine  # noqa: E402
from bot.nlu.encoder import cpu_has_bf16  # noqa: E402
from bot.nlu.evaluation import Example, evaluate, read_csv  # noqa: E402

RESULTS = ROOT / "bench" / "results"
BANKING77_EPOCHS = 7  # all run: 378 s on two cores with bf16 (Intel AMX); 867 s in fp32 on AVX2 only


def banking77(data: Path) -> tuple[list[Example], list[Example]]:
    return (read_csv(data / "train.csv", "text", "category"), read_csv(data / "test.csv", "text", "category"))


def product(seed: int = 7, fraction: float = 0.2) -> tuple[list[Example], list[Example]]:
    """A stratified 80/20 split of the product's own NLU examples."""
    from rasa.shared.nlu.training_data.loading import load_data

    by_intent: dict[str, list[str]] = defaultdict(list)
    for message in load_data(str(ROOT / "data" / "nlu")).intent_examples:
        by_intent[message.get("intent")].append(message.get("text"))
    rng, train, test = random.Random(seed), [], []
    for intent in sorted(by_intent):
        texts = sorted(by_intent[intent])
        rng.shuffle(texts)
        cut = round(len(texts) * fraction)
        test += [(t, intent) for t in texts[:cut]]
        train += [(t, intent) for t in texts[cut:]]
    return train, test


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("banking77", "product"))
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "banking77")
    parser.add_argument("--pipelines", default="tandem,diet")
    parser.add_argument("--tandem-epochs", type=int, default=None,
                        help=f"Tandem's epochs, all of them run (default: config.yml's for product, "
                             f"{BANKING77_EPOCHS} for banking77)")
    parser.add_argument("--tandem-seeds", default=None,
                        help="comma-separated seeds, one Tandem training each (default: config.yml's seed)")
    args = parser.parse_args()
    train, test = banking77(args.data) if args.dataset == "banking77" else product()
    out = RESULTS / f"{args.dataset}.json"
    runs = json.loads(out.read_text())["runs"] if out.is_file() else {}
    measured = args.pipelines.split(",")
    seeds = [int(seed) for seed in args.tandem_seeds.split(",")] if args.tandem_seeds else [None]
    host = {**machine(), "cpu_bf16": cpu_has_bf16()}
    for name in measured:
        epochs = args.tandem_epochs or (BANKING77_EPOCHS if args.dataset == "banking77" else None)
        epochs = epochs if name == "tandem" else None
        if name == "tandem":
            runs = {key: run for key, run in runs.items() if not key.startswith("tandem_seed_")}
        for index, seed in enumerate(seeds if name == "tandem" else [None]):
            key = name if index == 0 else f"{name}_seed_{seed}"
            started = {"when": _now(), "load_average_1min": round(os.getloadavg()[0], 2)}
            runs[key] = {**started, **evaluate(test, train_examples=train, pipeline_name=name, epochs=epochs,
                                               patience=epochs, seed=seed)}
            print(key, json.dumps(runs[key]), flush=True)
    result = {
        "dataset": args.dataset, "when": _now(), "same_run": measured,
        "machine": host, "runs": runs,
    }
    over_seeds = _over_seeds([run for key, run in runs.items() if key.startswith("tandem")])
    if over_seeds:
        result["tandem_over_seeds"] = over_seeds
    if {"tandem", "diet"} <= set(runs):
        tandem, diet = runs["tandem"], runs["diet"]
        result["tandem_minus_diet_accuracy_points"] = round(100 * (tandem["accuracy"] - diet["accuracy"]), 2)
        for key, name in (("latency_ms_p50", "latency_p50"), ("train_seconds", "train_seconds")):
            result[f"{name}_ratio_tandem_to_diet"] = round(tandem[key] / diet[key], 3)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


def _over_seeds(runs: list[dict]) -> dict | None:
    """Every seed's accuracy and their mean, min and max; None for a single run."""
    if len(runs) < 2:
        return None
    accuracies = [run["accuracy"] for run in runs]
    return {"seeds": [run["seed"] for run in runs], "accuracy": accuracies,
            "mean": statistics.mean(accuracies), "min": min(accuracies), "max": max(accuracies)}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


if __name__ == "__main__":
    sys.exit(main())
