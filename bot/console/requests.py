"""Reading the console's JSON requests and refusing bad ones with a JSON error and the right status."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from aiohttp.web_exceptions import HTTPException


class JsonError(HTTPException):
    """An error answer with the body {"error": message}; its status is set per instance."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        self.status_code = status
        super().__init__(text=json.dumps({"error": message}), content_type="application/json",
                         headers=headers)


def refuse(status: int, message: str, headers: Mapping[str, str] | None = None) -> JsonError:
    """The exception to raise for an error answer."""
    return JsonError(status, message, headers)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; 400 for anything else, 413 when it is too large."""
    try:
        body = await request.json()
    except web.HTTPRequestEntityTooLarge:
        raise refuse(413, "the request is too large") from None
    except (ValueError, UnicodeDecodeError):
        raise refuse(400, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise refuse(400, "the body must be a JSON object")
    return body


def text_field(body: Mapping[str, Any], name: str, max_chars: int, *, strip: bool = True) -> str:
    """A required non-empty string field of at most `max_chars` characters."""
    value = body.get(name)
    if not isinstance(value, str) or not (value.strip() if strip else value):
        raise refuse(400, f"'{name}' is required: a non-empty string")
    value = value.strip() if strip else value
    if len(value) > max_chars:
        raise refuse(413, f"'{name}' is longer than {max_chars} characters")
    return value
