"""Entity spans <-> BIO tags on sub-word tokens, aligned through the tokenizer's character offsets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

OUTSIDE = "O"
IGNORED = -100  # label of special and padding tokens, skipped by the loss


@dataclass(frozen=True)
class Span:
    """An entity in a text: characters [start, end), its tag ('entity', 'entity#role', 'entity@group')."""

    start: int
    end: int
    tag: str
    confidence: float = 1.0


def entity_tag(entity: dict) -> str:
    """The tag that names an entity with its role and group, as Rasa annotates them."""
    tag = entity["entity"]
    if entity.get("role"):
        tag += f"#{entity['role']}"
    if entity.get("group"):
        tag += f"@{entity['group']}"
    return tag


def tag_fields(tag: str) -> dict[str, str]:
    """Rasa's entity fields from a tag: {'entity': ..., 'role': ..., 'group': ...} as present."""
    rest, _, group = tag.partition("@")
    entity, _, role = rest.partition("#")
    fields = {"entity": entity}
    if role:
        fields["role"] = role
    if group:
        fields["group"] = group
    return fields


def bio_labels(tags: Sequence[str]) -> list[str]:
    """The label set: 'O', then 'B-tag' and 'I-tag' for every tag in a stable order."""
    return [OUTSIDE] + [f"{prefix}-{tag}" for tag in sorted(set(tags)) for prefix in ("B", "I")]


def encode(offsets: Sequence[tuple[int, int]], spans: Sequence[Span], label_ids: dict[str, int]) -> list[int]:
    """BIO label ids per token: a token inside a span gets B- if it is the span's first token, else I-."""
    labels = []
    seen: set[Span] = set()
    for start, end in offsets:
        if start == end:  # special token ([CLS], [SEP], padding)
            labels.append(IGNORED)
            continue
        span = next((s for s in spans if start < s.end and end > s.start), None)
        if span is None:
            labels.append(label_ids[OUTSIDE])
        else:
            labels.append(label_ids[f"{'I' if span in seen else 'B'}-{span.tag}"])
            seen.add(span)
    return labels


def decode(offsets: Sequence[tuple[int, int]], labels: Sequence[str],
           confidences: Sequence[float]) -> list[Span]:
    """Spans from per-token BIO labels; an I- that does not continue a span of its tag starts one."""
    spans: list[Span] = []
    current: list = []  # [start, end, tag, confidences]

    def close() -> None:
        if current:
            spans.append(Span(current[0], current[1], current[2], sum(current[3]) / len(current[3])))
            current.clear()

    for (start, end), label, confidence in zip(offsets, labels, confidences, strict=True):
        if start == end:
            continue
        prefix, _, tag = label.partition("-")
        if label == OUTSIDE:
            close()
        elif prefix == "I" and current and current[2] == tag:
            current[1] = end
            current[3].append(confidence)
        else:
            close()
            current.extend([start, end, tag, [confidence]])
    close()
    return spans


def snap(span: Span, text: str, word_bounds: Sequence[tuple[int, int]] = ()) -> Span:
    """Widen a span to whole words: to the Rasa tokens it touches, else over adjacent letters and digits."""
    start, end = span.start, span.end
    for word_start, word_end in word_bounds:
        if word_start < end and word_end > start:
            start, end = min(start, word_start), max(end, word_end)
    if not word_bounds:
        while start > 0 and text[start - 1].isalnum():
            start -= 1
        while end < len(text) and text[end].isalnum():
            end += 1
    return Span(start, end, span.tag, span.confidence)
