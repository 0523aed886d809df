"""What Tandem's webhooks share: a health route and JSON errors for refused input, the answers to a channel
that is off and to a request that is not the platform's, and answering each platform delivery once across
Rasa replicas."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.validation import InvalidInput
from bot.settings import Settings
from bot.store.db import make_engine, session_scope
from bot.store.deliveries import first_delivery, forget_delivery

logger = logging.getLogger(__name__)

AGENT_TITLE = "customer service"  # how an agent's replies introduce them: "Sam Patel (customer service): ..."


def add_standard_routes(blueprint: Blueprint, channel: str) -> None:
    """GET / answers {"status": "ok"}; an InvalidInput raised by a handler becomes its JSON error."""

    @blueprint.exception(InvalidInput)
    async def refuse(_: Request, error: InvalidInput) -> HTTPResponse:
        logger.warning("refused %s request: %s", channel, error)
        return response.json({"error": str(error)}, status=error.status)

    @blueprint.route("/", methods=["GET"])
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})


def channel_off(channel: str, variables: str) -> HTTPResponse:
    """503 from the webhook of a channel without credentials."""
    logger.warning("%s webhook called, but the channel is off (%s not set)", channel, variables)
    return response.json({"error": f"the {channel} channel is off: set {variables}"}, status=503)


def refused(channel: str, reason: str) -> HTTPResponse:
    """401 for a request that does not prove it comes from the platform."""
    logger.warning("refused a %s webhook request: %s", channel, reason)
    return response.json({"error": reason}, status=401)


def not_answered(reason: str) -> HTTPResponse:
    """200 for a delivery the bot takes no turn on: the platform must not retry it."""
    return response.json({"ignored": reason})


class Deliveries:
    """One channel's deliveries in the store every Rasa replica shares (bot/store/deliveries.py)."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._engine: Engine | None = None

    def _store(self) -> Engine:
        """The store at TANDEM_DB_URL, reached on first use: Rasa builds its channels before it serves."""
        if self._engine is None:
            self._engine = make_engine(Settings.from_env().db_url)
        return self._engine

    async def take(self, request: Request, delivery_id: str) -> bool:
        """True for the first attempt at a delivery, False for a retry of one taken already.

        When the store cannot tell, True: a customer answered twice beats a customer not answered.
        """
        engine = self._store()
        try:
            first = await asyncio.to_thread(self._record, engine, delivery_id)
        except SQLAlchemyError as error:
            logger.error("%s delivery %s: the store cannot say whether it is a retry, answering it: %s",
                         self.channel, delivery_id, error)
            return True
        if first:
            request.ctx.delivery_id = delivery_id
        else:
            logger.info("%s delivery %s was taken already: not answering it again", self.channel, delivery_id)
        return first

    async def release_failed(self, request: Request, answer: HTTPResponse) -> None:
        """Response middleware: forget a delivery we failed (5xx), so that the platform's retry is taken."""
        delivery_id = getattr(request.ctx, "delivery_id", None)
        if delivery_id is None or answer.status < 500:
            return
        try:
            await asyncio.to_thread(self._forget, self._store(), delivery_id)
        except SQLAlchemyError as error:
            logger.error("%s delivery %s failed and stays taken; its retry goes unanswered: %s",
                         self.channel, delivery_id, error)

    def _record(self, engine: Engine, delivery_id: str) -> bool:
        with session_scope(engine) as session:
            return first_delivery(session, self.channel, delivery_id, datetime.utcnow())

    def _forget(self, engine: Engine, delivery_id: str) -> None:
        with session_scope(engine) as session:
            forget_delivery(session, self.channel, delivery_id)
