"""The fallback path: confirm our best guess, ask to rephrase, then offer topics or a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.common import EventList, say

INTENT_QUESTIONS = {
    "track_order": "know where your order is",
    "cancel_order": "cancel an order",
    "change_order": "change an order",
    "place_order": "know how to place an order",
    "check_cancellation_fee": "know whether cancelling costs anything",
    "delivery_options": "know our delivery options",
    "delivery_period": "know how long delivery takes",
    "change_shipping_address": "change the delivery address of an order",
    "set_up_shipping_address": "save a new delivery address",
    "get_refund": "return something for a refund",
    "track_refund": "know where your refund is",
    "check_refund_policy": "know our returns policy",
    "check_payment_methods": "know which payment methods we accept",
    "payment_issue": "sort out a problem with a payment",
    "check_invoice": "check an invoice",
    "get_invoice": "get a copy of an invoice",
    "create_account": "create an account",
    "delete_account": "delete your account",
    "edit_account": "change your account details",
    "recover_password": "reset your password",
    "registration_problems": "get help with signing up",
    "switch_account": "switch to another account",
    "newsletter_subscription": "change your newsletter subscription",
    "complaint": "make a complaint",
    "contact_customer_service": "know how to reach customer service",
    "contact_human_agent": "talk to a person from our team",
    "review": "leave a review",
    "previous_contact": "follow up on an earlier conversation",
    "ask_recommendation": "get product suggestions",
    "product_availability": "know whether a product is in stock",
}


class ActionDefaultAskAffirmation(Action):
    """First stage: 'Did you want to cancel an order?' with yes/no, from the NLU's best guesses."""

    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> EventList:
        ranking = tracker.latest_message.get("intent_ranking") or []
        guess = next((r["name"] for r in ranking if r.get("name") in INTENT_QUESTIONS), None)
        if guess is None:
            say(dispatcher, tracker, "ask_rephrase")
        else:
            say(dispatcher, tracker, "confirm_intent", question=INTENT_QUESTIONS[guess],
                buttons=[{"title": "Yes", "payload": f"/{guess}"},
                         {"title": "No", "payload": "/out_of_scope"}])
        return []


class ActionDefaultAskRephrase(Action):
    """Second stage: ask the customer to say it in other words."""

    def name(self) -> str:
        return "action_default_ask_rephrase"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> EventList:
        say(dispatcher, tracker, "ask_rephrase")
        return []


class ActionDefaultFallback(Action):
    """Last stage: offer topics and a person, and forget the message that was not understood."""

    def name(self) -> str:
        return "action_default_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> EventList:
        say(dispatcher, tracker, "default")
        return [UserUtteranceReverted()]
