"""Identity: channel ids per Rasa channel, web login tokens, verified customers only, emailed codes, value."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from bot.cli import main
from bot.store import identities, verification
from bot.store.customers import CustomerValue, customer_value
from bot.store.db import session_scope
from bot.store.identities import ChannelId, channel_id, issue_login_token, login_email

NOW = datetime(2026, 3, 2, 12, 0)
SECRET = "test-secret-of-the-shop"
ALEX = "alex.morgan@example.com"
NEW_TELEGRAM = ChannelId("telegram", "555000111")


def token(email: str = ALEX, secret: str = SECRET, now: datetime = NOW, hours: float = 1) -> str:
    return issue_login_token(email, secret, now=now, ttl=timedelta(hours=hours))


# --- channel ids ----------------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "sender", "metadata", "expected"), [
    ("slack", "slack:U0ALEXMORG", None, ChannelId("slack", "U0ALEXMORG")),
    ("slack", "slack:u0alexmorg", None, None),
    ("telegram", "telegram:100000001", {}, ChannelId("telegram", "100000001")),
    ("telegram", "telegram:-1001234567", {}, None),  # a group chat is nobody's identity
    ("telegram", "telegram:1; DROP TABLE identities", {}, None),
    ("twilio_voice", "twilio_voice:+44 7700 900001", None, ChannelId("phone", "+447700900001")),
    ("voice", "voice:0044 (7700) 900-001", None, ChannelId("phone", "+447700900001")),
    ("voice", "voice:07700900001", None, None),  # no country code: not E.164
    ("voice", "voice:anonymous", None, None),
    ("telegram", "100000001", {}, None),  # without its channel's prefix an id names nobody
    ("telegram", "slack:U0ALEXMORG", {}, None),  # another channel's conversation
    ("voice", "twilio_voice:+447700900001", None, None),
    ("socketio", "3f9c2a1b", None, ChannelId("web", "3f9c2a1b")),
    ("rest", "web-42", {"login_token": "forged"}, ChannelId("web", "web-42")),
    ("socketio", "3f9c2a1b", {"login_token": "TOKEN"}, ChannelId("email", ALEX)),
    ("whatsapp", "+447700900001", None, None),
    (None, "100000001", None, None),
    ("socketio", "<script>alert(1)</script>", None, None),
])
def test_channel_id_per_rasa_channel(channel, sender, metadata, expected) -> None:
    if metadata and metadata.get("login_token") == "TOKEN":
        metadata = {"login_token": token()}
    assert channel_id(channel, sender, metadata, secret=SECRET, now=NOW) == expected


@pytest.mark.parametrize(("channel", "external", "sender"), [
    ("telegram", "100000001", "telegram:100000001"),
    ("slack", "U0ALEXMORG", "slack:U0ALEXMORG"),
    ("twilio_voice", "+447700900001", "twilio_voice:+447700900001"),
    ("voice", "+447700900001", "voice:+447700900001"),
])
def test_a_channel_sender_id_holds_the_channels_own_id(channel, external, sender) -> None:
    assert identities.channel_sender(channel, external) == sender
    assert identities.external_id(channel, sender) == external


@pytest.mark.parametrize(("channel", "sender"), [
    ("telegram", "100000001"),  # no prefix
    ("telegram", "slack:U0ALEXMORG"),
    ("voice", "twilio_voice:+447700900001"),
    ("twilio_voice", "voice:+447700900001"),
    ("telegram", "telegram100000001"),
    ("telegram", ":100000001"),
    (None, "telegram:100000001"),
    ("", ":100000001"),
])
def test_an_id_under_another_prefix_has_no_external_id(channel, sender) -> None:
    assert identities.external_id(channel, sender) is None


def test_a_login_token_identifies_on_any_channel_but_only_with_the_secret() -> None:
    metadata = {"login_token": token()}
    on_telegram = channel_id("telegram", "telegram:100000002", metadata, secret=SECRET, now=NOW)
    assert on_telegram == ChannelId("email", ALEX)
    assert channel_id("socketio", "abc", metadata, secret=None, now=NOW) == ChannelId("web", "abc")


# --- login tokens ---------------------------------------------------------------------------


def test_a_token_names_its_email_until_it_expires() -> None:
    issued = token(" Alex.Morgan@Example.com ")
    assert login_email(issued, SECRET, NOW) == ALEX
    assert login_email(issued, SECRET, NOW + timedelta(minutes=59)) == ALEX
    assert login_email(issued, SECRET, NOW + timedelta(hours=1)) is None


def _swap_email(good: str) -> str:
    other = token("mallory@example.com").split(".")[1]
    version, _, expiry, signature = good.split(".")
    return ".".join((version, other, expiry, signature))


@pytest.mark.parametrize(("name", "make"), [
    ("another secret", lambda: token(secret="not-the-shop")),
    ("another email under Alex's signature", lambda: _swap_email(token())),
    ("a later expiry", lambda: token().replace(token().split(".")[2], str(int(token().split(".")[2]) + 999))),
    ("three parts", lambda: ".".join(token().split(".")[:3])),
    ("another version", lambda: "v2" + token()[2:]),
    ("non-ASCII signature", lambda: token()[:-1] + "é"),
    ("not a string", lambda: 42),
    ("too long", lambda: token() + "0" * 600),
    ("empty", lambda: ""),
    ("SQL", lambda: "' OR 1=1 --"),
])
def test_forged_or_malformed_tokens_name_nobody(name, make) -> None:
    assert login_email(make(), SECRET, NOW) is None, name


def test_without_a_secret_web_login_is_off() -> None:
    assert login_email(token(), None, NOW) is None and login_email(token(), "", NOW) is None
    with pytest.raises(ValueError):
        issue_login_token(ALEX, "", now=NOW)
    with pytest.raises(ValueError):
        issue_login_token("not an email", SECRET, now=NOW)


def test_the_cli_signs_tokens_with_the_configured_secret(monkeypatch, capsys) -> None:
    monkeypatch.delenv("TANDEM_WEBCHAT_SECRET", raising=False)
    assert main(["identity", "token", ALEX]) == 2 and "TANDEM_WEBCHAT_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("TANDEM_WEBCHAT_SECRET", SECRET)
    assert main(["identity", "token", "Alex.Morgan@example.com", "--hours", "2"]) == 0
    printed = capsys.readouterr().out.strip()
    assert login_email(printed, SECRET, datetime.utcnow() + timedelta(minutes=119)) == ALEX
    assert main(["identity", "token", "not-an-email"]) == 2


# --- customers behind channel ids -----------------------------------------------------------


@pytest.fixture
def session(store) -> Iterator[Session]:
    """A transaction on a fresh copy of the seeded store, committed at the end of the test."""
    with session_scope(store.engine) as s:
        yield s


def unverified(store, channel: str) -> tuple[str, int]:
    """An unverified identity of another customer than Alex: (external id, customer id)."""
    return store.rows("SELECT external_id, customer_id FROM identities WHERE channel = :c AND NOT verified "
                      "AND customer_id != 1 ORDER BY id LIMIT 1", c=channel)[0]


@pytest.mark.parametrize("cid", [ChannelId("slack", "U0ALEXMORG"), ChannelId("telegram", "100000001"),
                                 ChannelId("phone", "+447700900001"), ChannelId("email", ALEX)])
def test_verified_channel_ids_resolve_to_their_customer(session, cid) -> None:
    customer = identities.resolve(session, cid)
    assert (customer.id, customer.first_name, customer.email) == (1, "Alex", ALEX)


def test_unverified_unknown_and_web_ids_resolve_to_nobody(store, session) -> None:
    external_id, _ = unverified(store, "telegram")
    assert identities.resolve(session, ChannelId("telegram", external_id)) is None
    assert identities.resolve(session, ChannelId("telegram", "999999999999")) is None
    assert identities.resolve(session, ChannelId("email", "nobody@example.com")) is None
    assert identities.resolve(session, None) is None
    assert identities.resolve(session, ChannelId("web", "abc")) is None
    assert identities.resolve(session, ChannelId("web", "abc"), conversation_customer=1).id == 1
    assert identities.resolve(session, ChannelId("web", "abc"), conversation_customer=10**9) is None


def test_the_customers_senders_are_verified_ids_and_linked_conversations(store, session) -> None:
    identities.link_conversation(session, "web-1", 1, NOW)
    identities.link_conversation(session, "web-1", 1, NOW)  # once is enough
    senders = identities.customer_senders(session, 1)
    assert senders.by_identity == {"slack:U0ALEXMORG": {"slack"}, "telegram:100000001": {"telegram"},
                                   "voice:+447700900001": {"voice"},
                                   "twilio_voice:+447700900001": {"twilio_voice"}}
    assert senders.linked == {"web-1"} and "alex.morgan@example.com" not in senders.all
    b_telegram, customer_id = unverified(store, "telegram")
    b_senders = identities.customer_senders(session, customer_id)
    assert identities.channel_sender("telegram", b_telegram) not in b_senders.all


# --- codes ----------------------------------------------------------------------------------


def codes_sent(store) -> list[str]:
    """The codes in the outbox, oldest first."""
    return [body.split(" is ")[1][:6] for (body,) in store.rows("SELECT body FROM outbox ORDER BY id")]


def request(store, requester: ChannelId, email: str, now: datetime = NOW) -> bool:
    with session_scope(store.engine) as s:
        return verification.request_code(s, requester, email, now)


def confirm(store, requester: ChannelId, code: str, now: datetime = NOW,
            sender_id: str = "telegram:555000111") -> verification.Confirmation:
    with session_scope(store.engine) as s:
        return verification.confirm_code(s, requester, code, sender_id=sender_id, now=now)


def test_a_code_goes_to_the_outbox_and_only_its_hash_is_kept(store) -> None:
    assert request(store, NEW_TELEGRAM, " Alex.Morgan@example.com")
    (code,) = codes_sent(store)
    outbox = store.rows("SELECT recipient, subject, sent_at FROM outbox")
    assert outbox == [(ALEX, verification.SUBJECT, None)]
    row = store.rows("SELECT email, customer_id, code_hash, attempts FROM verification_codes")[0]
    assert row[:2] == (ALEX, 1) and code not in row[2] and row[3] == 0


def test_the_right_code_links_the_channel_id_once(store) -> None:
    request(store, NEW_TELEGRAM, ALEX)
    (code,) = codes_sent(store)
    in_time = NOW + timedelta(minutes=9)
    assert confirm(store, NEW_TELEGRAM, code, in_time) == verification.Confirmation("ok", 1)
    linked = store.rows("SELECT customer_id, verified FROM identities WHERE external_id = '555000111'")
    assert linked == [(1, 1)]
    assert confirm(store, NEW_TELEGRAM, code).status == "expired"  # used


def test_an_unverified_id_of_another_customer_moves_to_whoever_proves_the_email(store) -> None:
    external_id, other = unverified(store, "telegram")
    requester = ChannelId("telegram", external_id)
    request(store, requester, ALEX)
    assert confirm(store, requester, codes_sent(store)[0]).status == "ok"
    assert store.rows("SELECT customer_id, verified FROM identities WHERE channel = 'telegram' "
                      "AND external_id = :e", e=external_id) == [(1, 1)]
    assert other != 1


def test_a_web_chat_is_linked_as_a_conversation_not_an_identity(store) -> None:
    web = ChannelId("web", "3f9c2a1b")
    identities_before = store.value("SELECT count(*) FROM identities")
    request(store, web, ALEX)
    assert confirm(store, web, codes_sent(store)[0], sender_id="3f9c2a1b").status == "ok"
    assert store.rows("SELECT sender_id, customer_id FROM conversation_links") == [("3f9c2a1b", 1)]
    assert store.value("SELECT count(*) FROM identities") == identities_before


def test_a_code_expires_after_ten_minutes(store) -> None:
    request(store, NEW_TELEGRAM, ALEX)
    assert confirm(store, NEW_TELEGRAM, codes_sent(store)[0], NOW + timedelta(minutes=10)).status == "expired"


def test_the_answers_are_the_same_for_a_known_and_an_unknown_email(store) -> None:
    """Wrong codes count down to a lock, then even the right code is refused: the emails read the same."""
    answers = {}
    unknown_requester = ChannelId("telegram", "555000222")
    for email, requester in ((ALEX, NEW_TELEGRAM), ("nobody@example.com", unknown_requester)):
        assert request(store, requester, email)
        answers[email] = [confirm(store, requester, "000000") for _ in range(6)]
    known, unknown = answers.values()
    assert known == unknown == [verification.Confirmation("wrong", tries_left=n) for n in (4, 3, 2, 1)] + [
        verification.Confirmation("locked")] * 2
    assert confirm(store, NEW_TELEGRAM, codes_sent(store)[0]).status == "locked"
    assert len(codes_sent(store)) == 1  # nothing was sent to the unknown address
    assert store.value("SELECT count(*) FROM identities WHERE external_id LIKE '555000%'") == 0


def test_no_challenge_reads_as_expired(store) -> None:
    assert confirm(store, NEW_TELEGRAM, "123456") == verification.Confirmation("expired")


def test_codes_are_limited_per_channel_id_and_per_email(store) -> None:
    assert all(request(store, NEW_TELEGRAM, ALEX, NOW + timedelta(minutes=m)) for m in range(3))
    rows = store.value("SELECT count(*) FROM verification_codes")
    assert not request(store, NEW_TELEGRAM, "someone.else@example.com", NOW + timedelta(minutes=5))
    assert not request(store, ChannelId("slack", "U0OTHER1"), ALEX, NOW + timedelta(minutes=5))
    assert store.value("SELECT count(*) FROM verification_codes") == rows  # a refusal writes nothing
    assert request(store, NEW_TELEGRAM, ALEX, NOW + timedelta(minutes=61))
    latest = codes_sent(store)[-1]
    assert confirm(store, NEW_TELEGRAM, codes_sent(store)[0], NOW + timedelta(minutes=62)).status == "wrong"
    assert confirm(store, NEW_TELEGRAM, latest, NOW + timedelta(minutes=62)).status == "ok"


@pytest.mark.parametrize("email", ["' OR 1=1 --", "<b>x</b>@example.com", "a@b.co, c@d.co", ""])
def test_request_code_refuses_what_is_not_one_email(store, email) -> None:
    with pytest.raises(ValueError):
        request(store, NEW_TELEGRAM, email)


def test_an_email_with_a_quote_is_only_a_value(store) -> None:
    assert request(store, NEW_TELEGRAM, "o'brien@example.com")
    assert store.rows("SELECT email FROM verification_codes") == [("o'brien@example.com",)]


# --- value ----------------------------------------------------------------------------------


def test_customer_value_sums_the_open_orders(store, session) -> None:
    spend = store.value("SELECT lifetime_spend_cents FROM customers WHERE id = 1")
    count, total = store.rows("SELECT count(*), coalesce(sum(total_cents), 0) FROM orders "
                              "WHERE customer_id = 1 AND status IN "
                              "('pending', 'processing', 'shipped', 'out_for_delivery')")[0]
    assert count >= 2  # 10001 shipped, 10003 processing
    assert customer_value(session, 1) == CustomerValue(spend, count, total)


@pytest.mark.parametrize("customer_id", [None, 10**9, "1", True])
def test_customer_value_of_nobody_is_zero(session, customer_id) -> None:
    assert customer_value(session, customer_id) == CustomerValue(0, 0, 0)
