"""`tandem nlu evaluate` end to end on tiny CSVs: trains real pipelines, scores them, writes the JSON."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.loading import load_data

from bot.settings import PROJECT_ROOT
from bot.training import train_if_stale

INTENTS = ("track_order", "cancel_order", "greet", "thank")
KEYS = {"accuracy", "macro_f1", "n_train", "n_test", "train_seconds", "latency_ms_p50", "latency_ms_p99",
        "throughput_per_s", "device", "fallback_rate"}


@pytest.fixture(scope="module")
def csvs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Train/test CSVs cut from the product's data, with out_of_scope as the OOS label."""
    data = load_data(str(PROJECT_ROOT / "data" / "nlu"))
    folder = tmp_path_factory.mktemp("csv")
    splits: dict[str, list[tuple[str, str]]] = {"train": [], "test": []}
    for intent in (*INTENTS, "out_of_scope"):
        texts = [m.get("text") for m in data.intent_examples if m.get("intent") == intent]
        splits["train"] += [(t, intent) for t in texts[:12]]
        splits["test"] += [(t, intent) for t in texts[12:16]]
    paths = []
    for name, rows in splits.items():
        path = folder / f"{name}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "category"])
            writer.writerows(rows)
        paths.append(path)
    return paths[0], paths[1]


def evaluate(out: Path, *args: str) -> dict:
    """Run the real command; return the JSON it wrote, checking it also ends its output."""
    result = subprocess.run([sys.executable, "-m", "bot.cli", "nlu", "evaluate", *args, "--out", str(out)],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    written = json.loads(out.read_text())
    assert result.stdout.rstrip().endswith(json.dumps(written, indent=2))
    return written


@pytest.mark.parametrize("pipeline", ["tandem", "diet"])
def test_train_and_score_a_pipeline(csvs: tuple[Path, Path], tmp_path: Path, pipeline: str) -> None:
    train, test = csvs
    result = evaluate(tmp_path / "result.json", "--train", str(train), "--test", str(test),
                      "--label-column", "category", "--pipeline", pipeline, "--oos-label", "out_of_scope")
    assert KEYS | {"in_scope_accuracy", "oos_recall"} <= set(result)
    assert (result["n_train"], result["n_test"]) == (60, 20)
    assert result["accuracy"] > 0.5 and 0 < result["macro_f1"] <= 1
    assert result["train_seconds"] > 0 and result["throughput_per_s"] > 0
    assert 0 < result["latency_ms_p50"] <= result["latency_ms_p99"]
    assert result["device"] == "cpu"


def test_score_the_product_model(csvs: tuple[Path, Path], tmp_path: Path) -> None:
    train_if_stale(PROJECT_ROOT, PROJECT_ROOT / "models")
    result = evaluate(tmp_path / "result.json", "--model", "models", "--test", str(csvs[1]),
                      "--label-column", "category")
    assert KEYS <= set(result) and result["train_seconds"] is None
    assert result["accuracy"] >= 0.9  # these texts are in the product's training data
