"""One session's events as analytics rows: facts, turns, steps with what followed them, loops."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.analytics.process import find_loops
from bot.analytics.rows import session_rows
from bot.conversations import ordered
from tests.unit.analytics_events import Script

LATER = datetime(2026, 3, 3)


def rows(script: Script, now: datetime = LATER):
    events = [{**e, "_id": n + 1} for n, e in enumerate(ordered(script.events))]
    return session_rows(events, sender_id=script.sender, now=now, closed=False)


def test_a_contained_conversation() -> None:
    got = rows(Script("alex.morgan@example.com").contained().slot("csat", 5))
    c = got.conversation
    assert (c["id"], c["outcome"], c["turns"], c["intents"], c["first_intent"]) == (
        1, "resolved", 2, "track_order thank", "track_order")
    assert c["sender"] == "a***n@example.com" and len(c["sender_key"]) == 32
    assert (c["emotion_start"], c["emotion_end"], c["trajectory"], c["nps"], c["csat"]) == (
        "neutral", "joy", 1, 1, 5)
    assert c["escalation_reason"] is None and c["time_to_escalation_s"] is None and not c["handed_back"]
    assert c["channel"] == "rest" and c["day"].isoformat() == "2026-03-02" and c["duration_s"] == 13
    assert [t["intent"] for t in got.turns] == ["track_order", "thank"]
    assert got.turns[0]["actions"] == "action_check_order" and "on its way" in got.turns[0]["answer"]
    assert [s["step"] for s in got.steps] == ["(start)", "track_order", "action_check_order", "thank",
                                             "utter_you_are_welcome"]
    assert got.steps[-1]["next_step"] == "(resolved)" and got.loops == []


def test_an_escalation_keeps_its_first_reason_and_timing_and_a_hand_back() -> None:
    script = Script("s").start().user("I am furious", "complaint", emotion="anger", sentiment=-0.9)
    script.decision("deescalate", "mild_frustration", frustration=0.5).answer("utter_complaint", "Sorry!")
    script.user("still furious", "complaint", emotion="anger", sentiment=-0.9)
    script.handoff("frustration", "sensitive_topic", pause=True).add({"event": "resume"})
    c = rows(script).conversation
    assert (c["outcome"], c["escalation_reason"], c["escalation_reasons"]) == (
        "escalated", "frustration", "frustration sensitive_topic")
    assert c["time_to_escalation_s"] == 10 and c["handed_back"]
    assert (c["peak_frustration"], c["nps"], c["trajectory"]) == (0.8, -1, 0)


def test_steps_carry_what_followed_them_on_their_first_occurrence() -> None:
    script = Script("s").start().user("blah", "nlu_fallback").decision("none")
    script.answer("action_default_fallback", "Sorry, I didn't get that.")
    script.user("I want a human", "contact_human_agent").handoff("explicit_request")
    steps = {s["step"]: s for s in rows(script).steps}
    assert steps["(start)"]["fallback_after"] and not steps["(start)"]["escalated_after"]
    assert steps["contact_human_agent"]["escalated_after"]
    assert sum(s["escalated_after"] for s in steps.values()) == 1
    assert rows(script).conversation["fallbacks"] == 1


def test_an_abandoned_form_marks_its_last_step() -> None:
    script = Script("s").start().user("cancel order 10003", "cancel_order").decision("none")
    script.action("cancel_order_form").bot("What's your email?").action("action_listen")
    got = rows(script)
    assert got.conversation["outcome"] == "abandoned"
    assert [s["abandoned_after"] for s in got.steps] == [False, False, True]
    assert rows(script, now=datetime(2026, 3, 2, 9, 0, 30)).conversation["outcome"] == "open"


def test_a_session_nobody_spoke_in_has_no_rows() -> None:
    assert rows(Script("s").start()).conversation is None


def test_personal_data_in_turns_is_masked() -> None:
    script = Script("s").start().user("it's alex.morgan@example.com, call +44 7700 900001", "inform")
    script.answer("utter_x", "We will write to alex.morgan@example.com")
    (turn,) = rows(script).turns
    assert "alex.morgan" not in turn["text"] + turn["answer"] and "900001" not in turn["text"]


@pytest.mark.parametrize(("value", "expected"), [(4, 4), ("4", 4), (" 2 ", 2), (5.0, 5), ("6", None),
                                               ("four", None), (0, None)])
def test_a_typed_or_clicked_rating_counts(value, expected) -> None:
    assert rows(Script("s").contained().slot("csat", value)).conversation["csat"] == expected


def test_malformed_values_are_ignored() -> None:
    script = Script("s").start()
    script.add({"event": "user", "text": 5, "parse_data": {"intent": "x", "emotion": []}})
    script.slot("escalation", "not a dict").slot("csat", 9).slot("csat", True)
    (turn,) = rows(script).turns
    c = rows(script).conversation
    assert (turn["intent"], turn["text"], turn["emotion"]) == (None, "", None)
    assert c["csat"] is None and c["nps"] is None and c["trajectory"] is None


U, B = "user", "bot"


@pytest.mark.parametrize(("sequence", "expected"), [
    ([("a", U), ("x", B)], []),
    ([("a", U), ("x", B)] * 3 + [("h", B)], [(0, ("a", "x"), 3)]),
    ([("g", U), ("x", B), ("a", U), ("x", B), ("a", U)], [(1, ("a", "x"), 2)]),  # from the customer step
    ([("a", U), ("a", U), ("a", U)], [(0, ("a",), 3)]),
    ([("a", U), ("b", B)] * 4, [(0, ("a", "b"), 4)]),  # not also as (a b a b) twice
    ([("a", U), ("b", B), ("c", B)] * 2 + [("a", U)], [(0, ("a", "b", "c"), 2)]),
])
def test_loops_are_runs_of_steps_repeated_back_to_back(sequence, expected) -> None:
    assert find_loops(sequence) == expected
