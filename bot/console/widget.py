"""The demo shop page with the web chat widget embedded (the widget itself is static/widget/).

GET /shop    a product page of the demo store whose one <script> tag talks to Rasa's socket.io channel
"""

from __future__ import annotations

import html

from aiohttp import web

from bot.console.app import SETTINGS, STATIC_DIR

SHOP_PAGE = STATIC_DIR / "shop" / "index.html"
RASA_URL_MARK = "{{rasa_url}}"  # where the page names Rasa's URL: settings.widget_rasa_url


def setup(app: web.Application) -> None:
    """Add the demo shop page's route."""
    app.router.add_get("/shop", shop)


async def shop(request: web.Request) -> web.Response:
    rasa_url = html.escape(request.app[SETTINGS].widget_rasa_url, quote=True)
    return web.Response(text=SHOP_PAGE.read_text(encoding="utf-8").replace(RASA_URL_MARK, rasa_url),
                        content_type="text/html")
