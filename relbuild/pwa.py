"""Installable app: manifest, service worker, the offline shell, versioned static URLs."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, url_for

bp = Blueprint("pwa", __name__)

STATIC = Path(__file__).resolve().parent / "static"
# The app shell the service worker keeps: everything a phone needs to scan and write notes offline.
SHELL_ASSETS = ("css/app.css", "js/app.js", "js/outbox.js", "js/scanner.js", "js/qr-worker.js",
                "vendor/jsQR.js", "icons/icon.svg", "icons/icon-192.png")
OFFLINE_SHELL = "/offline"


@lru_cache(maxsize=256)
def asset_version(filename: str) -> str | None:
    """A short hash of a static file's content (None when the file is missing, e.g. no npm)."""
    path = STATIC / filename
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.is_file() else None


def static_url(filename: str) -> str:
    """URL of a static file that changes whenever its content does, so it can be cached for a year."""
    return url_for("static", filename=filename, v=asset_version(filename))


def shell_assets() -> list[str]:
    return [static_url(name) for name in SHELL_ASSETS if asset_version(name)]


@bp.route("/manifest.webmanifest")
def manifest():
    icons = [
        {"src": static_url("icons/icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
        {"src": static_url("icons/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
        {"src": static_url("icons/maskable-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
    ]
    response = jsonify(
        name="Relbuild", short_name="Relbuild", id="/", start_url="/people", scope="/", display="standalone",
        orientation="portrait", theme_color="#9a3f1c", background_color="#fbf8f3", lang="en",
        description="Scan a badge, keep one genuine note, follow up for real.", icons=icons,
        shortcuts=[{"name": "Scan a badge", "url": "/scan"}, {"name": "My badge", "url": "/badge"}],
    )
    response.mimetype = "application/manifest+json"
    return response


@bp.route("/sw.js")
def service_worker():
    assets = shell_assets()
    version = hashlib.sha256("|".join(assets + [_shell_fingerprint()]).encode()).hexdigest()[:12]
    body = render_template("pwa/sw.js", version=version, assets=assets, shell=OFFLINE_SHELL,
                           outbox=static_url("js/outbox.js"), push=static_url("js/sw-push.js"))
    response = Response(body, mimetype="application/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@lru_cache(maxsize=1)
def _shell_fingerprint() -> str:
    templates = Path(current_app.root_path) / "templates"
    files = [templates / "pwa" / "offline.html", templates / "base.html", templates / "_scanner.html"]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files if f.exists())).hexdigest()


@bp.route(OFFLINE_SHELL)
def offline():
    """The offline shell: the same for everyone, so the service worker may keep it."""
    response = Response(render_template("pwa/offline.html", shell=True))
    response.headers["Cache-Control"] = "no-cache"
    return response
