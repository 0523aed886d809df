"""Agents' login: session cookies, CSRF tokens, rate-limited logins, presence (docs/console.md).

GET  /login          the login page
POST /api/login      {username, password} -> {agent, csrf_token}, sets the session cookie
POST /api/logout     ends the session
GET  /api/me         {agent, csrf_token}
POST /api/presence   {presence: online|away}
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.console.app import SETTINGS, STATIC_DIR, in_store
from bot.console.requests import json_body, refuse, text_field
from bot.store import agents
from bot.store.agents import AgentView, SessionView

COOKIE = "tandem_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION = "tandem_session"  # where the middleware puts the request's SessionView
OPEN_PATHS = frozenset({"/api/login"})
PROTECTED_PREFIXES = ("/api/",)  # every JSON API, the analytics one included; the pages ask it first
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def setup(app: web.Application) -> None:
    """Add the login routes and the middleware that guards every other console API."""
    app.middlewares.append(authenticate)
    app.router.add_get("/login", login_page)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
    app.router.add_post("/api/presence", presence)


def agent_json(agent: AgentView) -> dict[str, Any]:
    return {"id": agent.id, "username": agent.username, "display_name": agent.display_name,
            "role": agent.role, "presence": agent.presence}


def current(request: web.Request) -> SessionView:
    """The logged-in agent's session (set by `authenticate`)."""
    return request[SESSION]


@web.middleware
async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
    """401 without a valid session cookie; 403 for a state change without the session's CSRF token."""
    path = request.path
    if not path.startswith(PROTECTED_PREFIXES) or path in OPEN_PATHS:
        return await handler(request)
    token = request.cookies.get(COOKIE, "")
    session = await in_store(request.app, agents.session_for, token, _now()) if token else None
    if session is None:
        raise refuse(401, "log in first")
    if request.method not in SAFE_METHODS and not hmac.compare_digest(
            request.headers.get(CSRF_HEADER, "").encode(), session.csrf_token.encode()):
        raise refuse(403, f"missing or wrong {CSRF_HEADER} header")
    request[SESSION] = session
    return await handler(request)


async def login_page(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "console" / "login.html")


async def login(request: web.Request) -> web.Response:
    body = await json_body(request)
    username = text_field(body, "username", 64).lower()
    password = text_field(body, "password", agents.MAX_PASSWORD_CHARS, strip=False)
    try:
        session = await in_store(request.app, agents.login, username, password, request.remote or "?", _now())
    except agents.LoginLocked as locked:
        raise refuse(429, str(locked), headers={"Retry-After": str(locked.retry_after)}) from None
    if session is None:
        raise refuse(401, "wrong username or password")
    answer = web.json_response({"agent": agent_json(session.agent), "csrf_token": session.csrf_token})
    answer.set_cookie(COOKIE, session.token, httponly=True, samesite="Strict", path="/",
                      secure=request.app[SETTINGS].secure_cookies)
    return answer


async def logout(request: web.Request) -> web.Response:
    await in_store(request.app, agents.logout, request.cookies[COOKIE])
    answer = web.json_response({})
    answer.del_cookie(COOKIE, path="/")
    return answer


async def me(request: web.Request) -> web.Response:
    session = current(request)
    return web.json_response({"agent": agent_json(session.agent), "csrf_token": session.csrf_token})


async def presence(request: web.Request) -> web.Response:
    wanted = text_field(await json_body(request), "presence", 16)
    try:
        agent = await in_store(request.app, agents.set_presence, current(request).agent.id, wanted, _now())
    except ValueError as error:
        raise refuse(400, str(error)) from None
    return web.json_response({"agent": agent_json(agent)})


def _now() -> datetime:
    return datetime.utcnow()
