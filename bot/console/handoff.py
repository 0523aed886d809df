"""The agents' side of a handoff: the queue, a ticket's conversation and context, and working it.

Routes (JSON shapes in docs/console.md): GET /console, GET /api/queue, GET /api/tickets/{id},
POST /api/tickets/{id}/{claim,release,reply,notes,hand-back,close,callback}, GET/POST
/api/canned-replies, and the websocket GET /api/live. Replies and hand backs go through the handoff
relay in the Rasa server (bot/channels/handoff.py), which reaches the customer on their own channel.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot import history
from bot.channels.handoff import SECRET_HEADER
from bot.console import transcript
from bot.console.app import SETTINGS, STATIC_DIR, STORE, TRACKER, in_store
from bot.console.auth import current
from bot.console.requests import json_body, refuse, text_field
from bot.messages import VOICE_CHANNELS
from bot.parsing import parse_phone
from bot.store import agents, canned, customers, tickets
from bot.store.agents import AgentView
from bot.store.db import session_scope
from bot.store.tickets import TicketView
from bot.tracker_events import latest_event_ids, read_events

logger = logging.getLogger(__name__)

LIVE_SOCKETS = web.AppKey("live_sockets", weakref.WeakSet)  # open /api/live sockets, closed at shutdown
RELAY_CLIENT = web.AppKey("relay_client", aiohttp.ClientSession)  # one connection pool to Rasa's relay

POLL_SECONDS = 1.0  # how often a live console looks for changes
HEARTBEAT_EVERY = 30  # polls between presence heartbeats (well inside tickets.PRESENCE_TIMEOUT)
RELAY_TIMEOUT = aiohttp.ClientTimeout(total=30)
MAX_REPLY_CHARS = 4000
HISTORY_WINDOW = timedelta(days=180)
CLOSING = frozenset({aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED,
                     aiohttp.WSMsgType.ERROR})


def setup(app: web.Application) -> None:
    """Add the console page, the queue and ticket API, and the live websocket."""
    app.router.add_get("/", lambda _: web.HTTPFound("/console"))
    app.router.add_get("/console", console_page)
    app.router.add_get("/api/queue", queue)
    app.router.add_get("/api/tickets/{id}", ticket_detail)
    app.router.add_post("/api/tickets/{id}/claim", claim)
    app.router.add_post("/api/tickets/{id}/release", release)
    app.router.add_post("/api/tickets/{id}/reply", reply)
    app.router.add_post("/api/tickets/{id}/notes", add_note)
    app.router.add_post("/api/tickets/{id}/hand-back", hand_back)
    app.router.add_post("/api/tickets/{id}/close", close)
    app.router.add_post("/api/tickets/{id}/callback", callback)
    app.router.add_get("/api/canned-replies", canned_replies)
    app.router.add_post("/api/canned-replies", add_canned_reply)
    app.router.add_get("/api/live", live)
    app[LIVE_SOCKETS] = weakref.WeakSet()
    app.on_shutdown.append(_close_live_sockets)
    app.cleanup_ctx.append(_relay_client)


async def console_page(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "console" / "index.html")


# --- reading: the queue and one ticket ------------------------------------------------------------


def ticket_rows(s: Session, tracker: Engine, views: list[TicketView], now: datetime) -> list[dict[str, Any]]:
    """Tickets as the console shows them, with customer names, claimers and each one's latest message."""
    names = tickets.agent_names(s, [v.claimed_by for v in views if v.claimed_by])
    people = customers.customer_names(s, {v.customer_id for v in views if v.customer_id})
    events = read_events(tracker, [v.sender_id for v in views],
                         since=min((v.created_at for v in views), default=now) - timedelta(days=1))
    return [{
        "id": v.id, "sender_id": v.sender_id, "channel": v.channel, "priority": v.priority,
        "status": v.status, "reasons": list(v.reasons), "frustration": v.frustration,
        "follow_up": v.follow_up, "contact": v.contact,
        "customer": {"id": v.customer_id, "name": people[v.customer_id]} if v.customer_id in people else None,
        "created_at": _iso(v.created_at),
        "waiting_seconds": max(0, int((now - v.created_at).total_seconds())),
        "claimed_by": {"id": v.claimed_by, "display_name": names.get(v.claimed_by)} if v.claimed_by else None,
        "last_message": transcript.last_message(events.get(v.sender_id, [])),
    } for v in views]


def load_queue(s: Session, tracker: Engine, now: datetime) -> list[dict[str, Any]]:
    return ticket_rows(s, tracker, tickets.queue(s), now)


def load_detail(s: Session, tracker: Engine, ticket_id: int, now: datetime) -> dict[str, Any] | None:
    """Everything an agent reads about one ticket; None when there is no such ticket."""
    view = tickets.ticket(s, ticket_id)
    if view is None:
        return None
    events = read_events(tracker, [view.sender_id]).get(view.sender_id, [])
    detail = {
        "ticket": {**ticket_rows(s, tracker, [view], now)[0], "summary": view.summary},
        "transcript": transcript.messages(events), "emotions": transcript.emotions(events),
        "notes": [{"id": n.id, "agent": n.agent, "text": n.text, "created_at": _iso(n.created_at)}
                  for n in tickets.notes(s, ticket_id)],
        "customer": None, "orders": [], "history": [],
    }
    if view.customer_id is not None:
        detail.update(_customer_context(s, tracker, view, now))
    return detail


def _customer_context(s: Session, tracker: Engine, view: TicketView, now: datetime) -> dict[str, Any]:
    profile = customers.profile(s, view.customer_id)
    if profile is None:
        return {}
    timeline = history.timeline(s, tracker, profile.id, now=now, window=HISTORY_WINDOW,
                                exclude_open_of=view.sender_id)
    orders = customers.recent_orders(s, profile.id)
    return {
        "customer": {"id": profile.id, "name": profile.name, "email": profile.email, "phone": profile.phone,
                     "since": _iso(profile.since), "open_orders": profile.value.open_orders,
                     "lifetime_spend": profile.value.lifetime_spend_cents / 100},
        "orders": [{"id": o.id, "status": o.status, "placed_at": _iso(o.created_at),
                    "total": o.total_cents / 100, "items": [item.name for item in o.items]} for o in orders],
        "history": [{"at": _iso(e.at), "kind": e.kind, "text": e.text,
                     "channel": e.session.channel if e.session else None} for e in timeline.entries],
    }


async def queue(request: web.Request) -> web.Response:
    rows = await in_store(request.app, load_queue, request.app[TRACKER], _now())
    return web.json_response({"tickets": rows})


async def ticket_detail(request: web.Request) -> web.Response:
    detail = await in_store(request.app, load_detail, request.app[TRACKER], _ticket_id(request), _now())
    if detail is None:
        raise refuse(404, f"no ticket {request.match_info['id']}")
    return web.json_response(detail)


# --- working a ticket -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    """A ticket an agent acts on, checked: it exists, it is not closed and (where asked) it is theirs."""

    ticket: TicketView
    agent: AgentView


async def _work(request: web.Request, *, must_hold: bool) -> Work:
    agent = current(request).agent
    view = await in_store(request.app, tickets.ticket, _ticket_id(request))
    if view is None:
        raise refuse(404, f"no ticket {request.match_info['id']}")
    if view.status == "closed":
        raise refuse(409, f"ticket {view.id} is closed")
    if must_hold and view.claimed_by != agent.id and not (agent.is_lead and view.status == "claimed"):
        raise refuse(403, f"ticket {view.id} is not yours: claim it first")
    return Work(view, agent)


async def _answer_with_ticket(request: web.Request, ticket_id: int) -> web.Response:
    def load(s: Session) -> dict[str, Any]:
        return ticket_rows(s, request.app[TRACKER], [tickets.ticket(s, ticket_id)], _now())[0]
    return web.json_response({"ticket": await in_store(request.app, load)})


async def claim(request: web.Request) -> web.Response:
    work = await _work(request, must_hold=False)
    if not await in_store(request.app, tickets.claim, work.ticket.id, work.agent.id, _now()):
        taken = await in_store(request.app, tickets.ticket, work.ticket.id)
        holder = await in_store(request.app, tickets.agent_names, [taken.claimed_by or 0])
        by = f" by {holder[taken.claimed_by]}" if taken.claimed_by in holder else ""
        raise refuse(409, f"ticket {work.ticket.id} is {taken.status}{by}")
    logger.info("agent %s claimed ticket %s", work.agent.username, work.ticket.id)
    return await _answer_with_ticket(request, work.ticket.id)


async def release(request: web.Request) -> web.Response:
    work = await _work(request, must_hold=True)
    await in_store(request.app, tickets.release, work.ticket.id)
    return await _answer_with_ticket(request, work.ticket.id)


async def reply(request: web.Request) -> web.Response:
    text = text_field(await json_body(request), "text", MAX_REPLY_CHARS)
    work = await _work(request, must_hold=True)
    if work.ticket.channel in VOICE_CHANNELS:
        raise refuse(409, "this customer is on a phone call: arrange a call back instead of typing")
    await _relay(request, "message", {"sender_id": work.ticket.sender_id, "text": text,
                                      "agent": work.agent.display_name})
    return web.json_response({"message": {"at": _iso(_now()), "role": "agent", "text": text,
                                          "agent": work.agent.display_name}})


async def add_note(request: web.Request) -> web.Response:
    text = text_field(await json_body(request), "text", tickets.MAX_NOTE_CHARS)
    work = await _work(request, must_hold=False)
    note = await in_store(request.app, tickets.add_note, work.ticket.id, work.agent.id, text, _now())
    return web.json_response({"note": {"id": note.id, "agent": note.agent, "text": note.text,
                                       "created_at": _iso(note.created_at)}})


async def hand_back(request: web.Request) -> web.Response:
    return await _finish(request, survey=False)


async def close(request: web.Request) -> web.Response:
    body = await json_body(request) if request.can_read_body else {}
    survey = body.get("survey", True)
    if not isinstance(survey, bool):
        raise refuse(400, "'survey' must be true or false")
    return await _finish(request, survey=survey)


async def _finish(request: web.Request, *, survey: bool) -> web.Response:
    """The bot takes the conversation back (asking for a rating with `survey`); the ticket closes."""
    work = await _work(request, must_hold=True)
    await _relay(request, "resume", {"sender_id": work.ticket.sender_id, "agent": work.agent.display_name,
                                     "survey": survey})  # a call takes no survey: the relay says nothing
    await in_store(request.app, tickets.close, work.ticket.id, _now())
    logger.info("agent %s closed ticket %s (survey: %s)", work.agent.username, work.ticket.id, survey)
    return await _answer_with_ticket(request, work.ticket.id)


async def callback(request: web.Request) -> web.Response:
    phone = text_field(await json_body(request), "phone", 32)
    work = await _work(request, must_hold=True)
    number = parse_phone(phone)
    if number is None:
        raise refuse(400, f"{phone!r} is not a phone number")
    await in_store(request.app, tickets.request_follow_up, work.ticket.id, "callback", number)
    return await _answer_with_ticket(request, work.ticket.id)


async def _relay(request: web.Request, path: str, body: dict[str, Any]) -> None:
    """POST to the Rasa server's handoff relay; its refusals keep their status, an outage is a 502."""
    settings = request.app[SETTINGS]
    url = f"{settings.rasa_base_url}/webhooks/handoff/{path}"
    try:
        async with request.app[RELAY_CLIENT].post(url, json=body) as answer:
            if answer.status == 200:
                return
            detail = (await answer.json(content_type=None) or {}).get("error", answer.reason)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        logger.error("handoff relay %s unreachable: %s", url, error)
        raise refuse(502, "the bot server is unreachable; the customer did not get this: try again") from None
    logger.error("handoff relay refused %s: %s %s", path, answer.status, detail)
    raise refuse(answer.status if answer.status in (404, 409) else 502, f"the bot server refused: {detail}")


async def _relay_client(app: web.Application) -> AsyncIterator[None]:
    """The console's HTTP client for the handoff relay (its secret read once), open while the console runs."""
    headers = {SECRET_HEADER: app[SETTINGS].relay_secret()}
    async with aiohttp.ClientSession(timeout=RELAY_TIMEOUT, headers=headers) as client:
        app[RELAY_CLIENT] = client
        yield


# --- canned replies -------------------------------------------------------------------------------


async def canned_replies(request: web.Request) -> web.Response:
    found = await in_store(request.app, canned.replies)
    return web.json_response({"replies": [{"id": r.id, "title": r.title, "text": r.text} for r in found]})


async def add_canned_reply(request: web.Request) -> web.Response:
    if not current(request).agent.is_lead:
        raise refuse(403, "only leads edit canned replies")
    body = await json_body(request)
    title = text_field(body, "title", canned.MAX_TITLE_CHARS)
    text = text_field(body, "text", canned.MAX_TEXT_CHARS)
    try:
        added = await in_store(request.app, canned.add_reply, title, text)
    except ValueError as error:
        raise refuse(400, str(error)) from None
    return web.json_response({"reply": {"id": added.id, "title": added.title, "text": added.text}})


# --- live updates ---------------------------------------------------------------------------------


async def live(request: web.Request) -> web.WebSocketResponse:
    """Push the queue and the watched ticket whenever they change; keep the agent present while open."""
    origin, host = request.headers.get("Origin"), request.host
    if origin and origin.split("://", 1)[-1] != host:
        raise refuse(403, "the live console only accepts connections from its own pages")
    socket = web.WebSocketResponse(heartbeat=25)
    await socket.prepare(request)
    request.app[LIVE_SOCKETS].add(socket)
    agent = current(request).agent
    watcher = LiveView(request.app, agent.id)
    try:
        while not socket.closed:
            for push in await asyncio.to_thread(watcher.changes):
                await socket.send_str(json.dumps(push))
            try:
                message = await socket.receive(timeout=POLL_SECONDS)
            except asyncio.TimeoutError:
                continue
            if message.type == aiohttp.WSMsgType.TEXT:
                watcher.watch(_watched(message.data))
            elif message.type in CLOSING:
                break
    except (ConnectionResetError, SQLAlchemyError) as error:
        logger.warning("live console of agent %s ended: %s", agent.id, error)
    finally:
        await socket.close()
    return socket


async def _close_live_sockets(app: web.Application) -> None:
    """Close every live console at shutdown, so that stopping the server does not wait on them."""
    for socket in set(app[LIVE_SOCKETS]):
        await socket.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"server shutting down")


class LiveView:
    """One console's view: what it was last sent, to push only what changed since."""

    def __init__(self, app: web.Application, agent_id: int) -> None:
        self.app, self.agent_id = app, agent_id
        self.ticket_id: int | None = None
        self.sent_queue: str | None = None
        self.sent_ticket: tuple[Any, ...] | None = None
        self.polls = 0

    def watch(self, ticket_id: int | None) -> None:
        self.ticket_id, self.sent_ticket = ticket_id, None

    def changes(self) -> list[dict[str, Any]]:
        """The pushes this poll owes the page (runs on a worker thread)."""
        now, pushes = _now(), []
        with session_scope(self.app[STORE]) as s:
            if self.polls % HEARTBEAT_EVERY == 0:
                agents.heartbeat(s, self.agent_id, now)
            self.polls += 1
            views = tickets.queue(s)
            watched = tickets.ticket(s, self.ticket_id) if self.ticket_id else None
            senders = [v.sender_id for v in views] + ([watched.sender_id] if watched else [])
            latest = latest_event_ids(self.app[TRACKER], senders)
            queue_state = json.dumps([(v.id, v.status, v.claimed_by, latest.get(v.sender_id)) for v in views])
            if queue_state != self.sent_queue:
                pushes.append({"type": "queue", "tickets": ticket_rows(s, self.app[TRACKER], views, now)})
                self.sent_queue = queue_state
            if watched is not None:
                state = (watched.status, watched.claimed_by, watched.follow_up, latest.get(watched.sender_id),
                         len(tickets.notes(s, watched.id)))
                if state != self.sent_ticket:
                    pushes.append({"type": "ticket", "ticket_id": watched.id,
                                   "detail": load_detail(s, self.app[TRACKER], watched.id, now)})
                    self.sent_ticket = state
        return pushes


def _watched(data: str) -> int | None:
    try:
        message = json.loads(data)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("type") != "watch":
        return None
    ticket_id = message.get("ticket_id")
    return ticket_id if isinstance(ticket_id, int) and not isinstance(ticket_id, bool) else None


def _ticket_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 12:
        raise refuse(400, "a ticket id is a number")
    return int(raw)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def _now() -> datetime:
    return datetime.utcnow()
