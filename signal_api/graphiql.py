"""GraphiQL at ``GET /graphql`` with no request to the internet.

Strawberry's own page loads React and GraphiQL from a CDN, so offline it stays at "Loading...". This
page loads everything from the service itself:

- ``/graphiql/assets/...``: the bundles shipped by the installed ``graphene-django-graphiql-static``
  package (BSD; GraphiQL 2 with React 17, the explorer plugin and the ``graphql-ws`` client, fonts
  inlined in the CSS), served with ``StaticFiles`` from its directory. Only its static folder is used:
  nothing of it is imported (its Python part needs Django), nothing is vendored here.
- ``/graphiql/page.js``: our page script (``signal_api/static/graphiql.js``): queries and mutations go
  over HTTP, subscriptions over graphql-transport-ws, with the API key of the Headers tab sent in the
  ``connection_init`` payload (a browser cannot set WebSocket handshake headers).

The page has no inline script, so the page CSP needs nothing but ``'self'`` for it
(:mod:`signal_api.security.headers`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.routing import BaseRoute

ASSETS_PACKAGE = "graphene_django_graphiql_static"
ASSETS_PATH = "/graphiql/assets"
PAGE_SCRIPT_PATH = "/graphiql/page.js"
PAGE_SCRIPT_FILE = Path(__file__).parent / "static" / "graphiql.js"

# in load order: React before GraphiQL, GraphiQL before the explorer plugin (it reads GraphiQL.React)
SCRIPTS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphql-ws.min.js",
    "graphiql-plugin-explorer.umd.js",
)
STYLES = ("graphiql.min.css", "style.css")

GRAPHIQL_HTML = "\n".join(
    (
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        "<title>Futures Signal API: GraphiQL</title>",
        '<link rel="icon" href="data:,">',
        *(f'<link rel="stylesheet" href="{ASSETS_PATH}/{name}">' for name in STYLES),
        "<style>html, body, #graphiql { height: 100%; margin: 0; overflow: hidden; width: 100%; }</style>",
        "</head>",
        "<body>",
        '<div id="graphiql">Loading GraphiQL...</div>',
        *(f'<script src="{ASSETS_PATH}/{name}"></script>' for name in SCRIPTS),
        f'<script src="{PAGE_SCRIPT_PATH}"></script>',
        "</body>",
        "</html>",
        "",
    )
)


def assets_directory() -> Path | None:
    """The installed package's folder of bundles, or ``None`` when the package is missing. Found without
    importing the package."""
    spec = importlib.util.find_spec(ASSETS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    static = Path(next(iter(spec.submodule_search_locations))) / "static" / ASSETS_PACKAGE
    return static if static.is_dir() else None


def graphiql_routes() -> list[BaseRoute]:
    """The page script and the bundles; without the package, the assets answer 503 with a code."""
    directory = assets_directory()

    async def page_script(request: Request) -> Response:
        return FileResponse(PAGE_SCRIPT_FILE, media_type="text/javascript")

    routes: list[BaseRoute] = [Route(PAGE_SCRIPT_PATH, page_script, methods=["GET"])]
    if directory is None:

        async def unavailable(request: Request) -> JSONResponse:
            message = f"the GraphiQL assets package {ASSETS_PACKAGE!r} is not installed"
            return JSONResponse({"ok": False, "error": {"code": "GRAPHIQL_UNAVAILABLE", "message": message}}, 503)

        routes.append(Route(ASSETS_PATH + "/{name:path}", unavailable, methods=["GET"]))
    else:
        routes.append(Mount(ASSETS_PATH, app=StaticFiles(directory=directory), name="graphiql-assets"))
    return routes
