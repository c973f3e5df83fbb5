"""``/docs`` (Swagger UI) and ``/redoc`` rendering ``/openapi.json`` with no request to the internet.

The JavaScript and CSS come from the installed ``fastapi-offline`` package (MIT; Swagger UI 5 and
ReDoc 2 bundles), served with ``StaticFiles`` from its directory: nothing is vendored here, nothing is
fetched from a CDN. Its directory is found without importing it (importing it would import FastAPI).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.routing import BaseRoute

ASSETS_PACKAGE = "fastapi_offline"
ASSETS_PATH = "/docs/assets"
SPEC_URL = "/openapi.json"

SWAGGER_HTML = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Futures Signal API: Swagger UI</title>
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
<link rel="icon" href="{ASSETS_PATH}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "{SPEC_URL}",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
}});
</script>
</body>
</html>
"""

REDOC_HTML = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Futures Signal API: ReDoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="{ASSETS_PATH}/favicon.png">
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<redoc spec-url="{SPEC_URL}"></redoc>
<script src="{ASSETS_PATH}/redoc.standalone.js"></script>
</body>
</html>
"""


def assets_directory() -> Path | None:
    """The installed package's ``static`` folder, or ``None`` when the package is missing."""
    spec = importlib.util.find_spec(ASSETS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    static = Path(next(iter(spec.submodule_search_locations))) / "static"
    return static if static.is_dir() else None


def docs_routes() -> list[BaseRoute]:
    directory = assets_directory()
    if directory is None:

        async def unavailable(request: Request) -> JSONResponse:
            message = f"the documentation assets package {ASSETS_PACKAGE!r} is not installed"
            return JSONResponse({"ok": False, "error": {"code": "DOCS_UNAVAILABLE", "message": message}}, 503)

        return [Route("/docs", unavailable, methods=["GET"]), Route("/redoc", unavailable, methods=["GET"])]

    async def swagger(request: Request) -> HTMLResponse:
        return HTMLResponse(SWAGGER_HTML)

    async def redoc(request: Request) -> HTMLResponse:
        return HTMLResponse(REDOC_HTML)

    return [
        Route("/docs", swagger, methods=["GET"]),
        Route("/redoc", redoc, methods=["GET"]),
        Mount(ASSETS_PATH, app=StaticFiles(directory=directory), name="docs-assets"),
    ]
