"""Local stand-ins for the platforms' APIs that record every call, and what the platforms send us.

`RecordingServer` is an aiohttp server on loopback, in a thread of its own (so that blocking tests and
asyncio tests alike can use it), that answers each route with JSON and records every request.
`slack_api()` and `telegram_api()` speak Slack's Web API and Telegram's Bot API; `slack_event`,
`slack_headers` and `telegram_update` build webhook deliveries the way the platforms do.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

WAIT_S = 120.0  # how long `wait_for` waits for the bot's call: generous, a test never relies on speed
Answer = Mapping[str, Any] | Callable[["Call"], "Mapping[str, Any] | tuple[int, Mapping[str, Any]]"]


@dataclass(frozen=True)
class Call:
    """One request the server received."""

    method: str
    path: str
    route: str  # the answers' key it matched; "" when none did (answered 404)
    headers: Mapping[str, str]
    params: dict[str, Any]  # the JSON object, form fields or query parameters it carried


class RecordingServer:
    """Answers `answers[route]` (aiohttp route patterns such as "/bot{token}/sendMessage") and records calls.

    An answer is a JSON object, or a function of the Call returning one or (HTTP status, JSON object).
    """

    def __init__(self, answers: Mapping[str, Answer]) -> None:
        self.answers = dict(answers)
        self._calls: list[Call] = []
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def __enter__(self) -> RecordingServer:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(sock), self._loop).result(timeout=30)
        return self

    def __exit__(self, *_: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    async def _serve(self, sock: socket.socket) -> None:
        app = web.Application()
        for route, answer in self.answers.items():
            app.router.add_route("*", route, self._handler(route, answer))
        unknown = (404, {"ok": False, "error": "unknown_method"})
        app.router.add_route("*", "/{tail:.*}", self._handler("", lambda _: unknown))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    def _handler(self, route: str, answer: Answer) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            call = Call(request.method, request.path, route, dict(request.headers), await _params(request))
            with self._changed:
                self._calls.append(call)
                self._changed.notify_all()
            result = answer(call) if callable(answer) else answer
            status, body = result if isinstance(result, tuple) else (200, result)
            return web.json_response(body, status=status)

        return handle

    def calls(self, route: str | None = None) -> list[Call]:
        """Every call so far, oldest first; only those to `route` when given."""
        with self._changed:
            return [call for call in self._calls if route is None or call.route == route]

    def wait_for(self, route: str, count: int = 1, timeout: float = WAIT_S,
                 where: Callable[[Call], bool] = lambda _: True) -> list[Call]:
        """Block until `count` calls to `route` (that satisfy `where`) came; return them all."""
        def matching() -> list[Call]:
            return [call for call in self._calls if call.route == route and where(call)]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                raise AssertionError(f"expected {count} call(s) to {route} within {timeout:.0f} s; "
                                     f"got {[(c.path, c.params) for c in self._calls]}")
            return matching()


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return await request.json()
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return dict(await request.post())
    return dict(request.query)


# --- Slack --------------------------------------------------------------------------------------

SLACK_POST_MESSAGE = "/api/chat.postMessage"
SLACK_AUTH_TEST = "/api/auth.test"
_slack_ts = itertools.count(1)


def slack_api(team: str = "T0TANDEM", bot_user: str = "U0TANDEMBOT") -> RecordingServer:
    """Slack's Web API at `<url>/api/`: chat.postMessage and auth.test, answered as Slack answers bots."""

    def post_message(call: Call) -> dict[str, Any]:
        if not call.headers.get("Authorization", "").startswith("Bearer xoxb-"):
            return {"ok": False, "error": "not_authed"}
        if "as_user" in call.params:  # Slack refuses it from the bot tokens of current (granular) apps
            return {"ok": False, "error": "invalid_arguments"}
        if not call.params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        ts = f"{int(time.time())}.{next(_slack_ts):06d}"
        return {"ok": True, "channel": call.params["channel"], "ts": ts,
                "message": {"type": "message", "user": bot_user, "text": call.params.get("text", ""),
                            "ts": ts}}

    return RecordingServer({
        SLACK_POST_MESSAGE: post_message,
        SLACK_AUTH_TEST: {"ok": True, "team_id": team, "user_id": bot_user, "bot_id": "B0TANDEMBOT"},
    })


def slack_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Slack's v0 request signature: HMAC-SHA256 of 'v0:{timestamp}:{body}' with the signing secret."""
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def slack_headers(secret: str, body: bytes, *, timestamp: int | None = None, retry: int | None = None,
                  retry_reason: str = "http_timeout",
                  content_type: str = "application/json") -> dict[str, str]:
    """The headers Slack sends with a delivery (and with its retries: `retry` = 1, 2, 3)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(timestamp),
               "X-Slack-Signature": slack_signature(secret, timestamp, body)}
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": retry_reason}
    return headers


_slack_events = itertools.count(1)


def slack_event(text: str, *, user: str = "U0CUSTOMER", channel: str = "D0CUSTOMER",
                channel_type: str | None = "im", event_type: str = "message", thread_ts: str | None = None,
                event_id: str | None = None) -> dict[str, Any]:
    """An Events API `event_callback` for a customer's message (a DM by default), as Slack sends it."""
    number = next(_slack_events)
    event: dict[str, Any] = {"type": event_type, "user": user, "text": text, "channel": channel,
                             "ts": f"1700000000.{number:06d}", "event_ts": f"1700000000.{number:06d}"}
    if channel_type is not None:  # app_mention events carry none
        event["channel_type"] = channel_type
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return {"token": "verification-token-unused", "team_id": "T0TANDEM", "api_app_id": "A0TANDEM",
            "type": "event_callback", "event_id": event_id or f"Ev{number:08d}", "event_time": 1700000000,
            "authorizations": [{"team_id": "T0TANDEM", "user_id": "U0TANDEMBOT", "is_bot": True}],
            "event": event}


def slack_button_click(value: str, *, user: str = "U0CUSTOMER", channel: str = "D0CUSTOMER",
                       message_ts: str = "1700000000.000100", thread_ts: str | None = None) -> bytes:
    """The form-encoded `block_actions` payload Slack posts when a customer clicks a button of the bot's."""
    message: dict[str, Any] = {"type": "message", "user": "U0TANDEMBOT", "ts": message_ts, "text": "Shall I?"}
    if thread_ts is not None:
        message["thread_ts"] = thread_ts
    payload = {"type": "block_actions", "user": {"id": user, "username": "casey", "team_id": "T0TANDEM"},
               "team": {"id": "T0TANDEM"}, "channel": {"id": channel}, "message": message,
               "actions": [{"type": "button", "action_id": "a1", "block_id": "b1", "value": value,
                            "text": {"type": "plain_text", "text": value}}]}
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def as_body(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload).encode()


# --- Telegram -----------------------------------------------------------------------------------

TELEGRAM_SEND_MESSAGE = "/bot{token}/sendMessage"
TELEGRAM_SET_WEBHOOK = "/bot{token}/setWebhook"
TELEGRAM_GET_ME = "/bot{token}/getMe"
_telegram_messages = itertools.count(1)


def telegram_api(bot_name: str, bot_id: int = 7000000001) -> RecordingServer:
    """Telegram's Bot API at `<url>/bot<token>/<method>`: getMe, setWebhook, deleteWebhook, sendMessage."""

    def send_message(call: Call) -> dict[str, Any] | tuple[int, dict[str, Any]]:
        chat_id = str(call.params.get("chat_id", ""))
        if not chat_id.lstrip("-").isdigit():
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
        return {"ok": True, "result": {
            "message_id": next(_telegram_messages), "date": int(time.time()), "text": call.params.get("text"),
            "chat": {"id": int(chat_id), "type": "private"},
            "from": {"id": bot_id, "is_bot": True, "first_name": "Tandem", "username": bot_name}}}

    return RecordingServer({
        TELEGRAM_GET_ME: {"ok": True, "result": {"id": bot_id, "is_bot": True, "first_name": "Tandem",
                                                 "username": bot_name}},
        TELEGRAM_SET_WEBHOOK: {"ok": True, "result": True, "description": "Webhook was set"},
        "/bot{token}/deleteWebhook": {"ok": True, "result": True, "description": "Webhook was deleted"},
        TELEGRAM_SEND_MESSAGE: send_message,
    })


def telegram_update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    """An update with a customer's private message, as Telegram posts it to the webhook."""
    sender = {"id": chat_id, "is_bot": False, "first_name": "Casey", "language_code": "en"}
    return {"update_id": update_id, "message": {
        "message_id": update_id % 100000, "date": 1700000000, "text": text, "from": sender,
        "chat": {"id": chat_id, "type": "private", "first_name": "Casey"}}}


def deliver(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
    """POST a delivery as the platform would (blocking); the status and the answer's text."""
    request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=WAIT_S) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
