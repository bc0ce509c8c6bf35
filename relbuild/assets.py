"""Static files: the minified, brotli and gzip copies `make` builds, chosen by the request's Accept-Encoding.

scripts/build_static.mjs writes static/dist/<dir>/<name>.<source hash>.<ext> (+ .br, .gz). A copy is served
only when its name carries the hash of the source as it is now; otherwise (no npm, or a source edited
since the last build) the source itself is served, compressed on the fly by Flask-Compress.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Flask, Response, abort, request, send_file
from werkzeug.security import safe_join

from .pwa import STATIC, asset_version

DIST = STATIC / "dist"
SUFFIXES = {"br": ".br", "gzip": ".gz", "identity": ""}
YEAR = 365 * 24 * 3600


def built_copy(filename: str, version: str) -> Path | None:
    """The minified copy of a static file, when the last build was made from the file as it is now."""
    stem, dot, extension = filename.rpartition(".")
    path = DIST / f"{stem}.{version}.{extension}"
    return path if dot and path.is_file() else None


def send_static(filename: str) -> Response:
    """The `static` endpoint: a versioned URL (`?v=` the content's hash, pwa.static_url) is cached for a year."""
    source = safe_join(str(STATIC), filename)
    version = asset_version(filename) if source else None
    if version is None:
        abort(404)
    built = built_copy(filename, version)
    encoding = request.accept_encodings.best_match(SUFFIXES, default="identity") if built else "identity"
    path = f"{built}{SUFFIXES[encoding]}" if built else source
    mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    # No version, or an old one: what this URL names may change, so caches must ask again (no-cache).
    versioned = request.args.get("v") == version
    # Each encoding is its own file, so its ETag differs (as HTTP requires) and a 304 names the right one.
    response = send_file(path, mimetype=mimetype, download_name=Path(filename).name, conditional=True,
                         max_age=YEAR if versioned else 0)
    response.cache_control.immutable = versioned or None
    if encoding != "identity":
        response.headers["Content-Encoding"] = encoding  # Flask-Compress leaves encoded responses alone
    response.vary.add("Accept-Encoding")
    return response


def init_app(app: Flask) -> None:
    app.view_functions["static"] = send_static
