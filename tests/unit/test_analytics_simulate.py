"""The simulator's plan, its check of the NLU and its ground truth, against a fake Rasa server."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.analytics import simulate
from bot.analytics.simulate import JOURNEYS


class FakeRasa(simulate.Rasa):
    """Parses as the journeys expect (unless told otherwise) and records what the simulator sends."""

    def __init__(self, wrong: dict[str, str] | None = None) -> None:
        super().__init__("http://fake")
        self.wrong = wrong or {}
        self.said: list[tuple[str, str, tuple[str, ...]]] = []
        self.events: list[tuple[str, list]] = []

    def parse(self, text: str) -> dict:
        journey = next(j for j in JOURNEYS if text in j.messages)
        intent = journey.intents[journey.messages.index(text)]
        emotion = "joy" if "thank" in text else "anger" if intent == "complaint" else "neutral"
        sentiment = {"joy": 0.99, "anger": -0.99}.get(emotion, 0.0)
        return {"intent": {"name": self.wrong.get(text, intent)},
                "emotion": {"label": emotion, "sentiment": sentiment}}

    def say(self, channel: str, sender: str, messages) -> None:
        self.said.append((channel, sender, tuple(messages)))

    def add_events(self, sender: str, events: list) -> None:
        self.events.append((sender, events))


def test_the_journeys_agree_with_a_faithful_nlu_and_a_disagreement_is_named() -> None:
    assert simulate.check(FakeRasa())[1] == []
    problems = simulate.check(FakeRasa({"qwerty": "out_of_scope"}))[1]
    assert problems == ["not_understood: 'qwerty' is out_of_scope, not nlu_fallback"]
    with pytest.raises(ValueError, match="does not read the journeys"):
        simulate.simulate(FakeRasa({"qwerty": "out_of_scope"}), 8)


def test_a_run_covers_every_journey_on_both_channels_with_surveys_and_hand_backs() -> None:
    rasa = FakeRasa()
    plan = simulate.simulate(rasa, 32, prefix="t", workers=2)
    assert len({s.sender for s in plan}) == 32
    assert Counter(s.channel for s in plan) == {"rest": 16, "socketio": 16}
    assert Counter(s.journey.name for s in plan) == {j.name: 4 for j in JOURNEYS}
    assert sorted(rasa.said) == sorted((s.channel, s.sender, s.journey.messages) for s in plan)
    kinds = Counter(events[0].get("name", events[0]["event"]) for _, events in rasa.events)
    assert kinds == {"resume": 4, "csat": 12}
    again = simulate.simulate(FakeRasa(), 32, prefix="t", workers=2)
    assert [s.sender for s in again] == [s.sender for s in plan]  # the same seeded order


def test_the_ground_truth_follows_the_definitions() -> None:
    plan = simulate.simulate(FakeRasa(), 16, prefix="t", workers=1)
    truth = simulate.ground_truth(plan)
    totals = truth["totals"]
    assert (totals["conversations"], totals["contained"], totals["escalated"], totals["abandoned"]) == (
        16, 4, 10, 2)
    assert totals["fallback_rate"] == 6 / 30  # 2 × 3 fallbacks among 2 × (2+1+1+3+1+3+3+1) messages
    assert totals["nps"] == 100 * (2 - 2) / 16 and totals["improved_share"] == 2 / 16
    assert (totals["csat_responses"], totals["csat"], totals["csat_mean"]) == (6, 4 / 6, 20 / 6)
    assert truth["escalation_reasons"] == {"explicit_request": 4, "frustration": 2, "loop": 2,
                                           "repeated_fallback": 2}
    assert truth["intents"]["delivery_period"] == {"messages": 8, "conversations": 4,
                                                   "containment_rate": 0.5, "escalation_rate": 0.5}
    assert totals["handed_back"] == 2
