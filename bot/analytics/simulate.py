"""A conversation simulator: scripted customer journeys with known outcomes, run through the real Rasa server.

Each journey says what the customer writes, what the NLU should make of it (checked on /model/parse before a
run) and how the conversation ends, so the analytics of a simulated run can be compared with the truth.
Journeys go over the REST channel or the socket.io channel. The hand-back journey needs an agent online:
the simulator marks one (`simulator`) online in the retail store while it runs.
"""

from __future__ import annotations

import json
import random
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import socketio
from sqlalchemy import delete, insert
from sqlalchemy.engine import Engine

from bot.analytics.rows import NEGATIVE_EMOTIONS, TRAJECTORY_MARGIN
from bot.store.models import Agent

CHANNELS = ("rest", "socketio")
SIMULATOR_AGENT = "simulator"
TIMEOUT_S = 120


@dataclass(frozen=True)
class Journey:
    """A scripted conversation and its known ending."""

    name: str
    messages: tuple[str, ...]
    intents: tuple[str, ...]  # what the NLU must make of each message
    emotion_end: str  # the emotion the NLU must see in the last message
    outcome: str  # resolved, escalated or abandoned
    reason: str | None = None  # why it escalates
    csat: int | None = None  # the survey score the customer gives at the end
    hand_back: bool = False  # an agent takes it and gives it back to the bot


ORDER = "Hi, where is my order 10001?"
JOURNEYS = (
    Journey("tracked_and_happy", (ORDER, "Great, thank you so much!"), ("track_order", "thank"), "joy",
            "resolved", csat=5),
    Journey("delivery_question", ("How long does delivery take?",), ("delivery_period",), "neutral",
            "resolved", csat=4),
    Journey("asks_for_a_person", ("I want to talk to a real person please",), ("contact_human_agent",),
            "neutral", "escalated", "explicit_request"),
    Journey("gets_angry", (ORDER, "This is ridiculous, I have been waiting for two weeks and nobody tells me "
                                  "anything!", "I am absolutely furious, your service is a disgrace!"),
            ("track_order", "complaint", "complaint"), "anger", "escalated", "frustration", csat=1),
    # no order number: the form asks for one whatever the store holds, and the customer leaves
    Journey("leaves_mid_form", ("I want to cancel an order",), ("cancel_order",), "neutral", "abandoned"),
    Journey("asks_again_and_again", ("How long does delivery take?",) * 3, ("delivery_period",) * 3,
            "neutral", "escalated", "loop"),
    Journey("not_understood", ("qwerty",) * 3, ("nlu_fallback",) * 3, "neutral", "escalated",
            "repeated_fallback"),
    Journey("handed_back", ("I want to talk to a real person please",), ("contact_human_agent",), "neutral",
            "escalated", "explicit_request", hand_back=True),
)


@dataclass(frozen=True)
class Simulated:
    """One simulated conversation and the analytics it should produce."""

    sender: str
    journey: Journey
    channel: str
    sentiments: tuple[float, ...]  # what the NLU gave each message, from /model/parse

    @property
    def trajectory(self) -> int:
        change = self.sentiments[-1] - self.sentiments[0]
        return 1 if change >= TRAJECTORY_MARGIN else -1 if change <= -TRAJECTORY_MARGIN else 0

    @property
    def nps(self) -> int:
        emotion = self.journey.emotion_end
        return 1 if emotion == "joy" else -1 if emotion in NEGATIVE_EMOTIONS else 0


class Rasa:
    """The Rasa server's HTTP API and its REST and socket.io channels."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _post(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            return json.loads(answer.read() or b"null")

    def parse(self, text: str) -> dict[str, Any]:
        return self._post("/model/parse", {"text": text})

    def add_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        """Append events to a conversation, as the handoff console does (no bot prediction follows)."""
        self._post(f"/conversations/{sender}/tracker/events", events)

    def say(self, channel: str, sender: str, messages: Sequence[str]) -> None:
        """Send the customer's messages one at a time, each once the bot has answered the one before."""
        if channel == "rest":
            for text in messages:
                self._post("/webhooks/rest/webhook", {"sender": sender, "message": text})
            return
        client = socketio.Client(reconnection=False)
        client.connect(self.url, transports=["polling"], socketio_path="socket.io", wait_timeout=30)
        try:
            client.call("session_request", {"session_id": sender}, timeout=TIMEOUT_S)
            for text in messages:  # the server acknowledges once Rasa has handled the message
                client.call("user_uttered", {"message": text, "session_id": sender}, timeout=TIMEOUT_S)
        finally:
            client.disconnect()


def check(rasa: Rasa, journeys: Sequence[Journey] = JOURNEYS) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Each journey message's parse, and every way the NLU disagrees with the scripts (none: as written)."""
    parses: dict[str, dict[str, Any]] = {}
    problems = []
    for journey in journeys:
        for index, (text, intent) in enumerate(zip(journey.messages, journey.intents, strict=True)):
            parsed = parses.setdefault(text, rasa.parse(text))
            if parsed["intent"]["name"] != intent:
                problems.append(f"{journey.name}: {text!r} is {parsed['intent']['name']}, not {intent}")
            emotion = parsed.get("emotion", {}).get("label")
            if index == len(journey.messages) - 1 and emotion != journey.emotion_end:
                problems.append(f"{journey.name}: {text!r} feels {emotion}, not {journey.emotion_end}")
    return parses, list(dict.fromkeys(problems))


def simulate(rasa: Rasa, conversations: int, *, store: Engine | None = None, seed: int = 7, workers: int = 4,
             journeys: Sequence[Journey] = JOURNEYS, channels: Sequence[str] = CHANNELS,
             prefix: str | None = None) -> list[Simulated]:
    """Run `conversations` journeys (round-robin over journeys and channels, in a seeded order)."""
    parses, problems = check(rasa, journeys)
    if problems:
        raise ValueError("the NLU does not read the journeys as scripted: " + "; ".join(problems))
    prefix = prefix or f"sim-{int(time.time())}"
    plan = []
    for n in range(conversations):
        journey, channel = journeys[n % len(journeys)], channels[n // len(journeys) % len(channels)]
        sentiments = tuple(float(parses[text]["emotion"]["sentiment"]) for text in journey.messages)
        plan.append(Simulated(f"{prefix}-{n:05d}", journey, channel, sentiments))
    random.Random(seed).shuffle(plan)
    if store is not None and any(s.journey.hand_back for s in plan):
        _agent_online(store)
    try:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda s: _run(rasa, s, store), plan))
    finally:
        if store is not None:
            with store.begin() as conn:
                conn.execute(delete(Agent).where(Agent.username == SIMULATOR_AGENT))
    return plan


def _agent_online(store: Engine) -> None:
    """An online agent with a fresh heartbeat, so that handoffs pause the bot."""
    with store.begin() as conn:
        conn.execute(delete(Agent).where(Agent.username == SIMULATOR_AGENT))
        conn.execute(insert(Agent).values(username=SIMULATOR_AGENT, display_name="Simulator", role="agent",
                                          presence="online", last_seen_at=datetime.utcnow()))


def _run(rasa: Rasa, simulated: Simulated, store: Engine | None) -> None:
    journey = simulated.journey
    if journey.hand_back and store is not None:
        _agent_online(store)  # refresh the heartbeat
    rasa.say(simulated.channel, simulated.sender, journey.messages)
    if journey.hand_back:
        rasa.add_events(simulated.sender, [{"event": "resume"}])
    if journey.csat is not None:
        rasa.add_events(simulated.sender, [{"event": "slot", "name": "csat", "value": journey.csat}])


def ground_truth(plan: Sequence[Simulated]) -> dict[str, Any]:
    """The metrics the simulated conversations should produce (docs/analytics.md), from the scripts alone."""
    n = len(plan)
    outcomes = Counter(s.journey.outcome for s in plan)
    turns = sum(len(s.journey.messages) for s in plan)
    fallbacks = sum(s.journey.intents.count("nlu_fallback") for s in plan)
    csats = [s.journey.csat for s in plan if s.journey.csat is not None]
    intents: dict[str, dict[str, Any]] = {}
    for s in plan:
        for index, intent in enumerate(s.journey.intents):
            entry = intents.setdefault(intent, {"messages": 0, "conversations": 0, "outcomes": Counter()})
            entry["messages"] += 1
            if intent not in s.journey.intents[:index]:
                entry["conversations"] += 1
                entry["outcomes"][s.journey.outcome] += 1
    return {
        "totals": {
            "conversations": n, "open": 0, "closed": n, "contained": outcomes["resolved"],
            "containment_rate": outcomes["resolved"] / n, "escalated": outcomes["escalated"],
            "escalation_rate": outcomes["escalated"] / n, "abandoned": outcomes["abandoned"],
            "abandonment_rate": outcomes["abandoned"] / n, "fallback_rate": fallbacks / turns,
            "avg_turns": turns / n, "improved_share": sum(s.trajectory == 1 for s in plan) / n,
            "worsened_share": sum(s.trajectory == -1 for s in plan) / n,
            "nps": 100 * sum(s.nps for s in plan) / n, "csat_responses": len(csats),
            "csat": sum(c >= 4 for c in csats) / len(csats) if csats else None,
            "csat_mean": sum(csats) / len(csats) if csats else None,
            "handed_back": sum(s.journey.hand_back for s in plan),
        },
        "escalation_reasons": dict(Counter(s.journey.reason for s in plan
                                           if s.journey.outcome == "escalated")),
        "intents": {name: {"messages": e["messages"], "conversations": e["conversations"],
                           "containment_rate": e["outcomes"]["resolved"] / e["conversations"],
                           "escalation_rate": e["outcomes"]["escalated"] / e["conversations"]}
                    for name, e in intents.items()},
        "channels": dict(Counter(s.channel for s in plan)),
    }
