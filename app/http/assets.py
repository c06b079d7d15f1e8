"""Static files, light and cached (issue 12).

Every file under static/ is read once at start-up and kept in memory with its gzip and brotli
forms (text types only), and served from there: never from a path the request names, so
no request reaches the file system.

- `/static/v/<version>/<path>`: the versioned URL that pages use (`static_url()` in
  templates). The version is a hash of the content of every static file, so relative module
  imports (`./chat-core.js`) stay versioned too, and any change to any file changes every
  URL. Cached for a year, `immutable`.
- `/static/<path>`: the stable URL (embed.js on shops' pages, older links): revalidated with
  its ETag (development: every time; production: after 5 minutes).

JavaScript and CSS are sent without their whole-line comments (`slim`). Both answer with
brotli or gzip when the browser takes it (`Vary: Accept-Encoding`). In
development a file changed on disk is read again at its next request (its version in URLs
stays until a restart)."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

import brotli
from aiohttp import web

from ..keys import settings_key

COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")
MIN_COMPRESS = 256  # smaller files gain nothing worth a Content-Encoding
YEAR = 365 * 86400
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
         ".map": "application/json", ".svg": "image/svg+xml", ".txt": "text/plain"}


@dataclass
class Asset:
    body: bytes
    content_type: str
    etag: str
    mtime: float
    gzip: bytes | None = None
    br: bytes | None = None


def _type_of(path: Path) -> str:
    return TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


# Comments are for people reading the source; browsers get the code without them. Only
# whole-line comments are taken out (a "//" inside a line may be part of a string or a URL),
# and block comments that begin a line.
_LINE_COMMENT = re.compile(rb"^[ \t]*//[^\n]*\n", re.MULTILINE)
_BLOCK_COMMENT = re.compile(rb"^[ \t]*/\*.*?\*/[ \t]*\n", re.MULTILINE | re.DOTALL)


def slim(body: bytes, suffix: str) -> bytes:
    if suffix == ".css":
        return _BLOCK_COMMENT.sub(b"", body)
    if suffix == ".js":
        return _LINE_COMMENT.sub(b"", _BLOCK_COMMENT.sub(b"", body))
    return body


def _load(path: Path) -> Asset:
    body = slim(path.read_bytes(), path.suffix.lower())
    content_type = _type_of(path)
    asset = Asset(body=body, content_type=content_type, mtime=path.stat().st_mtime,
                  etag=hashlib.sha256(body).hexdigest()[:20])
    if content_type.startswith(COMPRESSIBLE) and len(body) >= MIN_COMPRESS:
        asset.gzip = gzip.compress(body, compresslevel=9, mtime=0)
        asset.br = brotli.compress(body, quality=11)
    return asset


class Assets:
    def __init__(self, root: Path, *, reload: bool) -> None:
        self.root = root
        self.reload = reload
        self.files: dict[str, Asset] = {}
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                self.files[path.relative_to(root).as_posix()] = _load(path)
        digest = hashlib.sha256()
        for name, asset in self.files.items():
            digest.update(f"{name}\0{asset.etag}\0".encode())
        self.version = digest.hexdigest()[:12]

    def get(self, name: str) -> Asset | None:
        asset = self.files.get(name)
        if asset is not None and self.reload:
            path = self.root / name
            try:
                if path.stat().st_mtime != asset.mtime:
                    asset = self.files[name] = _load(path)
            except OSError:
                return None
        return asset

    def url(self, name: str) -> str:
        return f"/static/v/{self.version}/{name}"


assets_key = web.AppKey("assets", Assets)


def _accepts(request: web.Request, coding: str) -> bool:
    for item in request.headers.get("Accept-Encoding", "").split(","):
        token, _, params = item.strip().partition(";")
        if token.strip().lower() == coding:
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _answer(request: web.Request, name: str, *, forever: bool) -> web.Response:
    asset = request.app[assets_key].get(name)
    if asset is None:
        raise web.HTTPNotFound()
    body, coding = asset.body, None
    if asset.br is not None and _accepts(request, "br"):
        body, coding = asset.br, "br"
    elif asset.gzip is not None and _accepts(request, "gzip"):
        body, coding = asset.gzip, "gzip"
    etag = f'"{asset.etag}{"-" + coding if coding else ""}"'
    production = request.app[settings_key].production
    headers = {
        "ETag": etag,
        "Cache-Control": (f"public, max-age={YEAR}, immutable" if forever
                          else "public, max-age=300" if production else "no-cache"),
        "Vary": "Accept-Encoding",
    }
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers=headers)
    if coding:
        headers["Content-Encoding"] = coding
    charset = "utf-8" if asset.content_type.startswith(("text/", "application/json", "image/svg")) else None
    return web.Response(body=body, content_type=asset.content_type, charset=charset, headers=headers)


async def versioned(request: web.Request) -> web.Response:
    # A page from before a deploy may ask for an older version: it gets today's file, not
    # cached forever under the old URL.
    current = request.match_info["version"] == request.app[assets_key].version
    return _answer(request, request.match_info["path"], forever=current)


async def stable(request: web.Request) -> web.Response:
    return _answer(request, request.match_info["path"], forever=False)


def setup(app: web.Application, root: Path) -> None:
    """Read the static files, add their routes, and give templates `static_url(name)`."""
    import aiohttp_jinja2

    assets = Assets(root, reload=not app[settings_key].production)
    app[assets_key] = assets
    app.router.add_get("/static/v/{version}/{path:.+}", versioned, name="static_versioned")
    app.router.add_get("/static/{path:.+}", stable, name="static")
    aiohttp_jinja2.get_env(app).globals["static_url"] = assets.url
