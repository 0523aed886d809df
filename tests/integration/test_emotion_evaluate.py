"""`tandem emotion evaluate` on small files of both formats: trains the emotion head, writes the metrics."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from bot.nlu import emotion
from bot.nlu.emotion_eval import read
from bot.settings import PROJECT_ROOT

OWN = PROJECT_ROOT / "data" / "emotion" / "customer_service.csv"


def test_goemotions_ekman_rows_keep_single_labels_only(tmp_path: Path) -> None:
    folder = tmp_path / "ekman"
    folder.mkdir()
    (folder / "labels.txt").write_text("\n".join(emotion.EMOTIONS))
    (folder / "test.tsv").write_text("so happy!\t3\tid1\nwhat?? gross\t1,6\tid2\nugh\t0\tid3\n")
    assert read(folder / "test.tsv", "goemotions-ekman") == [("so happy!", "joy"), ("ugh", "anger")]


def test_evaluate_the_emotion_head_on_our_own_data(tmp_path: Path) -> None:
    rows = list(csv.DictReader(OWN.open()))
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    for path, part in ((train, [r for i, r in enumerate(rows) if i % 5]), (test, rows[::5])):
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, ["text", "emotion"])
            writer.writeheader()
            writer.writerows(part)
    out = tmp_path / "emotion.json"
    result = subprocess.run([sys.executable, "-m", "bot.cli", "emotion", "evaluate", "--train", str(train),
                             "--test", str(test), "--format", "csv", "--epochs", "2", "--out", str(out)],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    metrics = json.loads(out.read_text())
    assert set(metrics["per_label_f1"]) == set(emotion.EMOTIONS)
    assert metrics["n_test"] == len(rows[::5]) and metrics["n_train"] == len(rows) - len(rows[::5])
    assert metrics["macro_f1"] > 1 / len(emotion.EMOTIONS)  # better than chance after two epochs
    assert 0 < metrics["accuracy"] <= 1 and metrics["train_seconds"] > 0
