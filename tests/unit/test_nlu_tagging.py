"""Entity spans survive the trip to sub-word BIO tags and back, on the real tokenizer's offsets."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from bot.nlu.encoder import encoder_path
from bot.nlu.tagging import IGNORED, Span, bio_labels, decode, encode, entity_tag, snap, tag_fields


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(encoder_path(None))


def round_trip(tokenizer, text: str, spans: list[Span]) -> list[Span]:
    labels = bio_labels([s.tag for s in spans])
    ids = {label: i for i, label in enumerate(labels)}
    offsets = [tuple(o) for o in tokenizer(text, return_offsets_mapping=True)["offset_mapping"]]
    encoded = encode(offsets, spans, ids)
    names = [labels[i] if i != IGNORED else "O" for i in encoded]
    return [snap(s, text) for s in decode(offsets, names, [1.0] * len(names))]


@pytest.mark.parametrize(("text", "values"), [
    ("where is my order 10234?", [("10234", "order_id")]),
    ("order #10234 please", [("#10234", "order_id")]),
    ("email me at alex.morgan@example.com or call +44 7700 900123",
     [("alex.morgan@example.com", "email"), ("+44 7700 900123", "phone")]),
    ("the wireless headphones and a coffee maker", [("wireless headphones", "product"),
                                                    ("coffee maker", "product")]),
    ("😡 mein Bestellung 10234 ist kaputt", [("10234", "order_id")]),
    ("refund €49.99 for the kettle", [("€49.99", "amount"), ("kettle", "product")]),
])
def test_spans_round_trip_through_bio_tags(tokenizer, text: str, values: list[tuple[str, str]]) -> None:
    spans = [Span(text.index(value), text.index(value) + len(value), tag) for value, tag in values]
    assert [(text[s.start:s.end], s.tag) for s in round_trip(tokenizer, text, spans)] == values


def test_adjacent_entities_of_one_type_stay_apart(tokenizer) -> None:
    text = "orders 10234 10235"
    spans = [Span(7, 12, "order_id"), Span(13, 18, "order_id")]
    assert [(s.start, s.end) for s in round_trip(tokenizer, text, spans)] == [(7, 12), (13, 18)]


def test_decode_starts_a_span_on_a_stray_inside_tag() -> None:
    offsets = [(0, 0), (0, 4), (5, 9), (10, 14), (0, 0)]
    spans = decode(offsets, ["O", "I-product", "I-product", "B-order_id", "O"], [0.0, 0.8, 0.6, 0.9, 0.0])
    assert spans == [Span(0, 9, "product", pytest.approx(0.7)), Span(10, 14, "order_id", 0.9)]


def test_snap_widens_to_the_rasa_tokens_it_touches() -> None:
    text = "my headphones broke"
    assert snap(Span(5, 9, "product"), text, [(0, 2), (3, 13), (14, 19)]) == Span(3, 13, "product")
    assert snap(Span(5, 9, "product"), text) == Span(3, 13, "product")


def test_roles_and_groups_travel_in_the_tag() -> None:
    entity = {"entity": "city", "role": "destination", "group": "1"}
    assert entity_tag(entity) == "city#destination@1"
    assert tag_fields("city#destination@1") == entity
    assert tag_fields("order_id") == {"entity": "order_id"}
    assert bio_labels(["b", "a", "a"]) == ["O", "B-a", "I-a", "B-b", "I-b"]
