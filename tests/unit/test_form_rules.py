"""The generated interruption rules match domain.yml, and free-text slots ignore exactly those intents."""

from __future__ import annotations

import yaml

from bot.settings import PROJECT_ROOT
from scripts.form_rules import DIGRESSIONS, EXITS, OUTPUT, render


def test_generated_rules_are_current() -> None:
    assert OUTPUT.read_text() == render(), "run: python scripts/form_rules.py"


def test_free_text_slots_leave_interruptions_to_the_rules() -> None:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    free_text = [m for slot in domain["slots"].values() for m in slot["mappings"] if m["type"] == "from_text"]
    assert free_text
    for mapping in free_text:
        assert set(mapping["not_intent"]) == set(DIGRESSIONS) | set(EXITS)
