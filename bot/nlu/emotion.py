"""The customer's emotion: Ekman's six plus neutral, a sentiment score, and the labelled examples."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

EMOTIONS: tuple[str, ...] = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
# Sentiment per emotion in [-1, 1]; a message's sentiment is its expectation over the emotions.
VALENCE: dict[str, float] = {
    "anger": -1.0, "disgust": -0.9, "fear": -0.7, "joy": 1.0,
    "neutral": 0.0, "sadness": -0.8, "surprise": 0.2,
}


def read_examples(path: Path) -> list[tuple[str, str]]:
    """(text, emotion) rows of a CSV with columns `text,emotion`; unknown labels are an error."""
    if not path.is_file():
        raise ValueError(f"emotion data file {path} not found (component setting `emotion_data`)")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [(row["text"].strip(), row["emotion"].strip()) for row in csv.DictReader(handle)]
    unknown = sorted({label for _, label in rows} - set(EMOTIONS))
    if unknown:
        raise ValueError(f"{path}: unknown emotion labels {unknown}; use {', '.join(EMOTIONS)}")
    return [(text, label) for text, label in rows if text]


def describe(probabilities: Sequence[float]) -> dict:
    """What goes into a parsed message: the top label, its confidence, the ranking and the sentiment."""
    ranking = sorted(zip(EMOTIONS, probabilities, strict=True), key=lambda pair: -pair[1])
    sentiment = sum(VALENCE[name] * p for name, p in zip(EMOTIONS, probabilities, strict=True))
    return {
        "label": ranking[0][0],
        "confidence": round(float(ranking[0][1]), 4),
        "ranking": [{"name": name, "confidence": round(float(p), 4)} for name, p in ranking],
        "sentiment": round(max(-1.0, min(1.0, float(sentiment))), 4),
    }
