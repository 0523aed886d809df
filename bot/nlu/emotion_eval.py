"""`tandem emotion evaluate`: train the emotion head alone on labelled texts and score it on a test set."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from sklearn.metrics import accuracy_score, f1_score
from transformers import AutoModel, AutoTokenizer

from bot.nlu import emotion
from bot.nlu.data import Example, encode_examples, holdout
from bot.nlu.encoder import encoder_path, for_inference, pick_device
from bot.nlu.model import Heads, MultiTaskModel
from bot.nlu.train import TrainSettings, train

FORMATS = ("goemotions-ekman", "csv")


def read(path: Path, data_format: str) -> list[tuple[str, str]]:
    """(text, emotion) rows from our CSV (`text,emotion`) or GoEmotions' Ekman TSV (single-label rows)."""
    if data_format == "csv":
        return emotion.read_examples(path)
    if data_format != "goemotions-ekman":
        raise ValueError(f"format must be one of {FORMATS}, not {data_format!r}")
    names = (path.parent / "labels.txt").read_text().split()
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text, ids, *_ = line.split("\t")
        if "," not in ids:  # multi-label rows have no single right answer for a softmax head
            rows.append((text.strip(), names[int(ids)]))
    return rows


def evaluate(train_rows: list[tuple[str, str]], test_rows: list[tuple[str, str]], *, epochs: int = 3,
             model_path: str | None = None, device: str = "auto", precision: str = "auto",
             seed: int = 7) -> dict[str, Any]:
    """Fine-tune encoder and emotion head on `train_rows`; macro-F1, accuracy, per-label F1 on `test_rows`."""
    target = pick_device(device)
    checkpoint = encoder_path(model_path)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    torch.manual_seed(seed)
    model = MultiTaskModel(AutoModel.from_pretrained(checkpoint), Heads(1, 1, len(emotion.EMOTIONS)))
    examples = [Example(text, emotion=emotion.EMOTIONS.index(label)) for text, label in train_rows]
    fit_rows, val_rows = holdout(examples, lambda e: e.emotion, 0.1, seed)
    fit_items, val_items = (encode_examples(tokenizer, rows, {}, 128) for rows in (fit_rows, val_rows))
    started = time.perf_counter()
    settings = TrainSettings(epochs=epochs, seed=seed)
    train(model, fit_items, val_items, settings, tokenizer.pad_token_id, target)
    seconds = time.perf_counter() - started
    deployed = for_inference(model, target, precision)
    predicted = predict(deployed, tokenizer, [text for text, _ in test_rows], target)
    truth, labels = [label for _, label in test_rows], list(emotion.EMOTIONS)
    per_label = f1_score(truth, predicted, labels=labels, average=None, zero_division=0)
    return {
        "macro_f1": f1_score(truth, predicted, labels=labels, average="macro", zero_division=0),
        "accuracy": accuracy_score(truth, predicted),
        "per_label_f1": dict(zip(emotion.EMOTIONS, map(float, per_label), strict=True)),
        "n_train": len(train_rows), "n_test": len(test_rows), "train_seconds": seconds,
        "epochs": epochs, "device": target.type,
    }


@torch.inference_mode()
def predict(model: torch.nn.Module, tokenizer: Any, texts: list[str], device: torch.device) -> list[str]:
    """The most likely emotion of each text, one at a time as the deployed model runs."""
    labels = []
    for text in texts:
        encoded = tokenizer(text, truncation=True, max_length=128, return_tensors="pt").to(device)
        logits = model(encoded["input_ids"], encoded["attention_mask"]).emotion_logits
        labels.append(emotion.EMOTIONS[int(logits.argmax(-1))])
    return labels
