"""Training examples: tokenized once with offsets, split stratified, batched by length."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor
from transformers import PreTrainedTokenizerFast

from bot.nlu.tagging import IGNORED, Span, encode


@dataclass(frozen=True)
class Example:
    """A text with whatever labels it has: intent and entities (NLU data) and/or emotion."""

    text: str
    intent: int = IGNORED
    spans: tuple[Span, ...] | None = None  # None: entities not annotated for this text
    emotion: int = IGNORED


@dataclass(frozen=True)
class Encoded:
    """An example as token ids with per-token tag labels."""

    input_ids: list[int]
    tags: list[int]
    intent: int
    emotion: int
    offsets: list[tuple[int, int]] = field(default_factory=list)


def encode_examples(tokenizer: PreTrainedTokenizerFast, examples: Sequence[Example],
                    tag_ids: dict[str, int], max_length: int) -> list[Encoded]:
    """Tokenize every example once; tags are ignored where entities were not annotated."""
    batch = tokenizer([e.text for e in examples], truncation=True, max_length=max_length,
                      return_offsets_mapping=True)
    encoded = []
    for example, ids, offsets in zip(examples, batch["input_ids"], batch["offset_mapping"], strict=True):
        tags = (encode(offsets, example.spans, tag_ids) if example.spans is not None
                else [IGNORED] * len(ids))
        encoded.append(Encoded(ids, tags, example.intent, example.emotion, list(offsets)))
    return encoded


def holdout(examples: Sequence[Example], label: Callable[[Example], int], fraction: float,
            seed: int) -> tuple[list[Example], list[Example]]:
    """Split off about `fraction` of each label's examples (at least one, never all) for validation."""
    by_label: dict[int, list[Example]] = defaultdict(list)
    for example in examples:
        by_label[label(example)].append(example)
    rng = random.Random(seed)
    train, validation = [], []
    for key in sorted(by_label):
        group = by_label[key]
        rng.shuffle(group)
        n_val = min(len(group) - 1, max(1, round(len(group) * fraction)))
        validation += group[:n_val]
        train += group[n_val:]
    return train, validation


def length_batches(lengths: Sequence[int], batch_size: int, rng: random.Random | None) -> list[list[int]]:
    """Batches of similar lengths (few pad tokens); shuffled within 50-batch pools when `rng` is given."""
    order = list(range(len(lengths)))
    if rng is None:
        return _chunks(sorted(order, key=lambda i: lengths[i]), batch_size)
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        batches += _chunks(sorted(order[start:start + pool], key=lambda i: lengths[i]), batch_size)
    rng.shuffle(batches)
    return batches


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def collate(items: Sequence[Encoded], pad_id: int) -> dict[str, Tensor]:
    """Pad a batch to its longest example."""
    width = max(len(item.input_ids) for item in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    tags = torch.full((len(items), width), IGNORED, dtype=torch.long)
    for row, item in enumerate(items):
        n = len(item.input_ids)
        ids[row, :n] = torch.tensor(item.input_ids)
        mask[row, :n] = 1
        tags[row, :n] = torch.tensor(item.tags)
    return {
        "input_ids": ids, "attention_mask": mask, "tags": tags,
        "intents": torch.tensor([item.intent for item in items]),
        "emotions": torch.tensor([item.emotion for item in items]),
    }
