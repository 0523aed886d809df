"""Link this chat to the customer's account with a code emailed to the address on file."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions.asks import AskForSlot
from actions.common import EventList, StoreAction, say, store_session
from actions.forms import SlotDict, reads_store
from actions.history import conversation_channel_id, conversation_customer, identified, identify
from bot.formatting import mask_email
from bot.parsing import parse_email
from bot.store import verification
from bot.store.identities import ChannelId

logger = logging.getLogger(__name__)

CODE_PATTERN = re.compile(rf"[0-9]{{{verification.CODE_DIGITS}}}")
VERIFIED = "verified"  # the verification_code slot once a code was right (the code itself is not kept)
REFUSALS = {"expired": "link_code_expired", "locked": "link_code_locked"}
LINK_SLOTS = ("link_email", "verification_code")


def linkable(cid: ChannelId | None) -> bool:
    """Whether a code can link this channel id: a Slack, Telegram or phone id, or a web chat."""
    return cid is not None and cid.kind != "email"


class ActionStartLinkAccount(Action):
    """Forget an earlier attempt's email and code, so that the form starts from the email."""

    def name(self) -> str:
        return "action_start_link_account"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> EventList:
        return [SlotSet(slot, None) for slot in LINK_SLOTS]


class AskForLinkEmail(AskForSlot):
    slot = "link_email"


class AskForVerificationCode(AskForSlot):
    slot = "verification_code"


class ValidateLinkAccountForm(FormValidationAction):
    """The email gets a code (same answer whether or not it is a customer's); the code links the chat."""

    def name(self) -> str:
        return "validate_link_account_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict[str, Any]) -> list[str]:
        """Nothing to ask when the chat is linked already or cannot be linked (the submit says which)."""
        try:
            with store_session() as session:
                cid, customer = identify(session, tracker, conversation_customer(tracker))
        except SQLAlchemyError:
            logger.exception("link form: store failed for conversation %s", tracker.sender_id)
            return domain_slots
        return domain_slots if customer is None and linkable(cid) else []

    @reads_store("link_email")
    def validate_link_email(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: dict[str, Any], session: Session) -> SlotDict:
        email, cid = parse_email(value), conversation_channel_id(tracker)
        if not linkable(cid):  # the submit action explains
            return {"link_email": None}
        if email is None:
            say(dispatcher, tracker, "invalid_email", value=" ".join(str(value).split())[:40])
            return {"link_email": None}
        if verification.request_code(session, cid, email, datetime.utcnow()):
            say(dispatcher, tracker, "link_code_sent", email=mask_email(email))
        else:
            say(dispatcher, tracker, "link_too_many_codes")
        return {"link_email": email}

    @reads_store("verification_code")
    def validate_verification_code(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: dict[str, Any], session: Session) -> SlotDict:
        code, cid = re.sub(r"[\s.-]", "", str(value or "")), conversation_channel_id(tracker)
        if not linkable(cid):  # the submit action explains
            return {"verification_code": None}
        if not CODE_PATTERN.fullmatch(code):
            say(dispatcher, tracker, "invalid_verification_code")
            return {"verification_code": None}
        result = verification.confirm_code(session, cid, code, sender_id=tracker.sender_id,
                                           now=datetime.utcnow())
        if result.status == "ok":
            return {"verification_code": VERIFIED, "customer_id": float(result.customer_id)}
        if result.status == "wrong":
            tries = f"{result.tries_left} {'try' if result.tries_left == 1 else 'tries'}"
            say(dispatcher, tracker, "link_code_wrong", tries=tries)
            return {"verification_code": None}
        say(dispatcher, tracker, REFUSALS[result.status])
        return {"verification_code": None, "link_email": None}


class ActionLinkAccount(StoreAction):
    """After the form: linked now, linked already, or this chat cannot be linked."""

    def name(self) -> str:
        return "action_link_account"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        cid, customer = identify(session, tracker, conversation_customer(tracker))
        reset = [SlotSet(slot, None) for slot in LINK_SLOTS]
        if customer is None:
            say(dispatcher, tracker, "link_unavailable")
            return reset
        if tracker.get_slot("verification_code") == VERIFIED:
            say(dispatcher, tracker, "link_done", first_name=customer.first_name)
        else:
            say(dispatcher, tracker, "already_linked", email=mask_email(customer.email))
        return reset + identified(session, tracker, cid, customer)
