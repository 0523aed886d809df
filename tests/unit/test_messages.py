"""Messages and responses: channel variants chosen right, voice variants free of links and markup."""

from __future__ import annotations

import re
import string

import pytest
import yaml

from bot.messages import catalog, render
from bot.settings import PROJECT_ROOT

LINK_OR_MARKUP = re.compile(r"https?://|\*\*|\[.+\]\(|<[a-z]")
DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())


def all_variant_lists() -> dict[str, list[dict]]:
    return {**{f"messages.yml:{k}": v for k, v in catalog().items()},
            **{f"domain.yml:{k}": v for k, v in DOMAIN["responses"].items()}}


@pytest.mark.parametrize(("name", "variants"), all_variant_lists().items())
def test_voice_gets_a_variant_without_links_markup_or_buttons(name: str, variants: list[dict]) -> None:
    default = next(v for v in variants if "channel" not in v)
    voice = next((v for v in variants if v.get("channel") == "voice"), default)
    if LINK_OR_MARKUP.search(default["text"]) or "buttons" in default:
        assert voice is not default, f"{name} needs a voice variant"
    assert not LINK_OR_MARKUP.search(voice["text"]) and "buttons" not in voice


def test_render_picks_the_channel_variant_and_fills_placeholders() -> None:
    text = render("order_status_shipped", "rest", order_id=1, status_since="Monday", carrier="DHL",
                  tracking_number="TN1", expected_delivery="Friday")["text"]
    assert "TN1" in text and "DHL" in text
    voice = render("order_status_shipped", "voice", order_id=1, status_since="Monday", carrier="DHL",
                   tracking_number="TN1", expected_delivery="Friday")["text"]
    assert "TN1" not in voice and "Friday" in voice
    assert render("default", "rest")["buttons"] and "buttons" not in render("default", "voice")


def test_render_refuses_missing_values_and_unknown_names() -> None:
    with pytest.raises(KeyError):
        render("unknown_order")
    with pytest.raises(KeyError):
        render("no_such_message")


def test_every_message_is_sent_by_some_action() -> None:
    files = [p for folder in ("actions", "bot", "bot/channels") for p in (PROJECT_ROOT / folder).glob("*.py")]
    sources = "\n".join(p.read_text() for p in files)
    # f"order_status_{status}", f"ask_{slot}", f"acknowledge_{emotion}", f"follow_up_{kind}"
    built_names = ("order_status_", "ask_", "acknowledge_", "follow_up_")
    unused = [n for n in catalog() if f'"{n}"' not in sources and not n.startswith(built_names)]
    assert unused == []


def test_placeholders_are_plain_names() -> None:
    for name, variants in catalog().items():
        for variant in variants:
            for _, field, _, _ in string.Formatter().parse(variant["text"]):
                assert field is None or field.isidentifier(), (name, field)
