"""The dashboard's files, served at ``/``: the single-page app built from ``dashboard/`` by Vite into
``api/static`` (shipped inside the package, so running perfpulse needs no Node).

- ``GET /assets/<name>`` — a built file; every name carries a content hash, so it is cached for a year
  (``immutable``); a name that is not there is 404.
- ``GET /`` and any other path that is not the API's (``/traces/<id>``, ``/logs?...``) — ``index.html``,
  never cached, so the app reads its route from the URL (links are shareable) and a new build shows at
  the next load.
- Without a build: 503 with a page naming ``make dashboard``.

Include this router after every other one: its fallback route answers any path they leave.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Match

__all__ = ["STATIC_DIR", "dashboard_router", "router"]

STATIC_DIR = Path(__file__).parent / "static"
ASSET_CACHE = "public, max-age=31536000, immutable"  # hashed names: a changed file has a new name
INDEX_CACHE = "no-cache"  # revalidate: index.html names the current build's assets
# Paths that belong to the API, never to the app: an unknown one stays a 404, not the app's page.
API_PREFIXES = ("api/", "v1/")
_OTHER_METHODS = ("POST", "PUT", "PATCH", "DELETE")  # what an API path may allow besides GET

_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>perfpulse: dashboard not built</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;line-height:1.5}}
code{{background:#eee;padding:2px 6px;border-radius:4px}}</style></head>
<body><h1>The dashboard is not built</h1>
<p>perfpulse serves its dashboard from <code>{path}</code>, which holds no <code>index.html</code>.</p>
<p>Build it from the repository with <code>make dashboard</code> (needs Node.js and npm), then reload.
<code>make run</code> builds it too.</p>
<p>The API answers meanwhile: <a href="/docs">/docs</a>.</p></body></html>
"""


def dashboard_router(static_dir: Path) -> APIRouter:
    """A router serving the build in ``static_dir`` (``index.html`` and ``assets/``); read at each
    request, so a build made while the API runs is served without a restart."""
    router = APIRouter(tags=["dashboard"], include_in_schema=False)
    assets = (static_dir / "assets").resolve()

    def index() -> Response:
        page = static_dir / "index.html"
        if not page.is_file():
            return HTMLResponse(_NOT_BUILT.format(path=static_dir), status_code=503, headers={"Retry-After": "30"})
        return FileResponse(page, media_type="text/html", headers={"Cache-Control": INDEX_CACHE})

    @router.api_route("/assets/{name:path}", methods=["GET", "HEAD"])
    async def asset(name: str) -> Response:
        path = (assets / name).resolve()
        # resolve() folds "..": a name that leaves assets/ is refused like a missing one
        if not path.is_relative_to(assets) or not path.is_file():
            raise HTTPException(404, f"no dashboard asset {name!r}")
        # Whole bytes, not a file stream: the HTTP middleware compresses whole bodies only (the app's
        # script is ~230 KB, ~73 KB gzipped), and the largest asset is well under a megabyte.
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return Response(path.read_bytes(), media_type=media_type, headers={"Cache-Control": ASSET_CACHE})

    @router.api_route("/", methods=["GET", "HEAD"])
    async def root() -> Response:
        return index()

    @router.api_route("/{route:path}", methods=["GET", "HEAD"])
    async def client_route(route: str, request: Request) -> Response:
        if route.startswith(API_PREFIXES):
            # This route matches every GET, so Starlette never sees an API path that exists for
            # other methods only: answer its 405 (with Allow) here, as Starlette would have.
            allowed = [
                method
                for method in _OTHER_METHODS
                if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in request.app.routes)
            ]
            if allowed:
                raise HTTPException(405, "Method Not Allowed", headers={"Allow": ", ".join(allowed)})
            raise HTTPException(404, "Not Found")
        # A path with a file extension is a missing file, not a page of the app.
        if "." in route.rsplit("/", 1)[-1]:
            raise HTTPException(404, "Not Found")
        return index()

    return router


router = dashboard_router(STATIC_DIR)
