"""`tandem nlu evaluate`: train a pipeline on a CSV (or take a trained model) and score it on a test CSV."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from sklearn.metrics import accuracy_score, f1_score

from bot.settings import PROJECT_ROOT

FALLBACK_INTENT = "nlu_fallback"
THROUGHPUT_BATCH = 64
# Rasa's stock pipeline for comparison: word and char 1-4 gram counts into DIET.
DIET_PIPELINE: list[dict[str, Any]] = [
    {"name": "WhitespaceTokenizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 40, "constrain_similarities": True, "random_seed": 7},
    {"name": "FallbackClassifier", "threshold": 0.5, "ambiguity_threshold": 0.05},
]

Example = tuple[str, str]


def read_csv(path: Path, text_column: str, label_column: str) -> list[Example]:
    """(text, label) rows; a missing column is an error naming the columns that exist."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {text_column, label_column} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path} has no column {sorted(missing)}; it has {reader.fieldnames}")
        return [(row[text_column].strip(), row[label_column].strip()) for row in reader
                if row[text_column].strip() and row[label_column].strip()]


def pipeline(name: str, epochs: int | None = None, patience: int | None = None,
             seed: int | None = None) -> list[dict[str, Any]]:
    """'tandem': the product's own pipeline from config.yml; 'diet': Rasa's stock DIET pipeline.

    `epochs` overrides the classifier's number of training epochs, `patience` Tandem's early stopping,
    `seed` the classifier's random seed.
    """
    if name == "diet":
        components = [dict(c) for c in DIET_PIPELINE]
    elif name == "tandem":
        components = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())["pipeline"]
    else:
        raise ValueError(f"pipeline must be 'tandem' or 'diet', not {name!r}")
    for component in components:
        classifier = component["name"].endswith(("DIETClassifier", "TandemTransformerNLU"))
        if epochs and classifier:
            component["epochs"] = epochs
        if seed is not None and classifier:
            component["random_seed"] = seed
        if patience and component["name"].endswith("TandemTransformerNLU"):
            component["patience"] = patience
    return components


def train(examples: Sequence[Example], pipeline_name: str, workdir: Path, epochs: int | None = None,
          patience: int | None = None, seed: int | None = None) -> tuple[Path, float]:
    """Train an NLU-only Rasa model on `examples` with `rasa train nlu`; return it and the seconds taken."""
    data = workdir / "train.json"
    data.write_text(json.dumps({"rasa_nlu_data": {"common_examples": [
        {"text": text, "intent": label, "entities": []} for text, label in examples]}}))
    config = workdir / "config.yml"
    config.write_text(yaml.safe_dump({"recipe": "default.v1", "assistant_id": "evaluation", "language": "en",
                                      "pipeline": pipeline(pipeline_name, epochs, patience, seed),
                                      "policies": []}))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rasa", "train", "nlu", "--config", str(config), "--nlu", str(data),
                    "--out", str(workdir), "--fixed-model-name", "nlu"], cwd=PROJECT_ROOT, check=True,
                   env={**os.environ, "RASA_MAX_CACHE_SIZE": "0"})  # a cached component would fake the time
    return workdir / "nlu.tar.gz", time.perf_counter() - started


def score(model: Path, examples: Sequence[Example], oos_label: str | None = None) -> dict[str, Any]:
    """Accuracy, macro-F1, single-message latency and batched throughput of a trained model."""
    from rasa.core.agent import load_agent
    from rasa.core.channels import UserMessage
    from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
    from rasa.shared.core.trackers import DialogueStateTracker

    loop = asyncio.new_event_loop()
    agent = loop.run_until_complete(load_agent(model_path=str(model)))
    predictions, latencies, fallbacks = [], [], 0
    for text, _ in examples:
        started = time.perf_counter()
        parsed = loop.run_until_complete(agent.parse_message(text))
        latencies.append((time.perf_counter() - started) * 1000)
        predictions.append(predicted_label(parsed, oos_label))
        fallbacks += parsed["intent"]["name"] == FALLBACK_INTENT
    processor = agent.processor
    tracker = DialogueStateTracker("evaluation", [])
    started = time.perf_counter()
    for start in range(0, len(examples), THROUGHPUT_BATCH):
        batch = [UserMessage(text) for text, _ in examples[start:start + THROUGHPUT_BATCH]]
        processor.graph_runner.run(inputs={PLACEHOLDER_MESSAGE: batch, PLACEHOLDER_TRACKER: tracker},
                                   targets=[processor.model_metadata.nlu_target])
    throughput = len(examples) / (time.perf_counter() - started)
    loop.close()
    result = metrics([label for _, label in examples], predictions, latencies, throughput, oos_label)
    return {**result, "fallback_rate": fallbacks / max(1, len(examples))}


def predicted_label(parsed: dict[str, Any], oos_label: str | None) -> str:
    """The predicted label: with an OOS label, a fallback predicts it; without, the classifier's best intent.

    The FallbackClassifier is a dialogue decision (ask again); as a classifier the model still ranked the
    intents, and benchmarks without out-of-scope examples score that ranking.
    """
    name = parsed["intent"]["name"] or FALLBACK_INTENT
    if name != FALLBACK_INTENT:
        return name
    if oos_label:
        return oos_label
    ranked = [r["name"] for r in parsed.get("intent_ranking", []) if r["name"] != FALLBACK_INTENT]
    return ranked[0] if ranked else FALLBACK_INTENT


def metrics(truth: Sequence[str], predicted: Sequence[str], latencies_ms: Sequence[float], throughput: float,
            oos_label: str | None) -> dict[str, Any]:
    """The JSON that `tandem nlu evaluate` writes."""
    result: dict[str, Any] = {
        "accuracy": accuracy_score(truth, predicted),
        "macro_f1": f1_score(truth, predicted, labels=sorted(set(truth)), average="macro", zero_division=0),
        "n_test": len(truth),
        "latency_ms_p50": statistics.median(latencies_ms),
        "latency_ms_p99": _percentile(latencies_ms, 99),
        "throughput_per_s": throughput,
    }
    if oos_label:
        in_scope = [(t, p) for t, p in zip(truth, predicted, strict=True) if t != oos_label]
        oos = [p for t, p in zip(truth, predicted, strict=True) if t == oos_label]
        result["in_scope_accuracy"] = sum(t == p for t, p in in_scope) / max(1, len(in_scope))
        result["oos_recall"] = sum(p == oos_label for p in oos) / max(1, len(oos))
    return result


def evaluate(test: Sequence[Example], *, train_examples: Sequence[Example] | None = None,
             model: Path | None = None, pipeline_name: str = "tandem",
             oos_label: str | None = None, epochs: int | None = None,
             patience: int | None = None, seed: int | None = None) -> dict[str, Any]:
    """Train on `train_examples` (or use `model`) and score on `test`."""
    import torch

    with tempfile.TemporaryDirectory(prefix="tandem-eval-") as workdir:
        seconds = None
        if model is None:
            if not train_examples:
                raise ValueError("give training examples (--train) or a trained model (--model)")
            model, seconds = train(train_examples, pipeline_name, Path(workdir), epochs, patience, seed)
        result = score(model, test, oos_label)
    uses_torch = pipeline_name == "tandem"
    return {**result, "pipeline": pipeline_name, "epochs": epochs, "patience": patience, "seed": seed,
            "n_train": len(train_examples or []), "train_seconds": seconds,
            "device": "cuda" if uses_torch and torch.cuda.is_available() else "cpu"}


def latest_model(path: Path) -> Path:
    """A model archive, or the newest archive in a folder such as models/."""
    if path.is_dir():
        archives = sorted(path.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
        if not archives:
            raise ValueError(f"no trained model (*.tar.gz) in {path}")
        return archives[-1]
    if not path.is_file():
        raise ValueError(f"no trained model at {path}")
    return path


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
