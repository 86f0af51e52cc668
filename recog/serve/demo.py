"""The demo page at `/`: plain HTML, CSS and JavaScript modules from `recog/serve/static/`.

    GET /                  static/index.html
    GET /static/NAME       one of the page's files (ASSETS); anything else is 404

The files are package data, read once when the app is made; nothing is fetched from
elsewhere (no CDN), so the page works offline. The page calls the service's own `/v1`
endpoints; with an API key configured it asks for the key and sends it as `X-API-Key`.
Its responses carry a Content-Security-Policy that allows only this origin (and `blob:`
audio for playing back a recording).
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import Response

from recog.serve.errors import NotFound

PAGE = "index.html"
ASSETS = {
    PAGE: "text/html; charset=utf-8",
    "demo.css": "text/css; charset=utf-8",
    "demo.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "ink.js": "text/javascript; charset=utf-8",
    "speech.js": "text/javascript; charset=utf-8",
    "wav.js": "text/javascript; charset=utf-8",
    "recorder-worklet.js": "text/javascript; charset=utf-8",
}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
                               "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def load_assets() -> dict[str, bytes]:
    """The page's files by name, read from the package (`recog/serve/static/`)."""
    folder = resources.files("recog.serve") / "static"
    return {name: (folder / name).read_bytes() for name in ASSETS}


def add_demo_page(app: FastAPI) -> None:
    """Serve the page at `/` and its files at `/static/NAME` (no API key: the page holds none)."""
    files = load_assets()

    def asset(name: str) -> Response:
        return Response(files[name], media_type=ASSETS[name], headers=HEADERS)

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return asset(PAGE)

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in files:
            raise NotFound(f"no file /static/{name[:80]} (the demo page's files: {', '.join(sorted(files))})")
        return asset(name)
