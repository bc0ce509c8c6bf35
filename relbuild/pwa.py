"""Installable app: manifest, service worker, the offline shell, versioned static URLs."""
from __future__ import annotations

import hashlib
import stat
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask_babel import force_locale, gettext as _

from .i18n import current_language, js_catalog_version, valid_language

bp = Blueprint("pwa", __name__)

STATIC = Path(__file__).resolve().parent / "static"
# The app shell the service worker keeps: everything a phone needs to scan and write notes offline.
SHELL_ASSETS = ("css/app.css", "js/app.js", "js/outbox.js", "js/scanner.js", "js/qr-worker.js",
                "vendor/jsQR.js", "icons/icon.svg", "icons/icon-192.png")
OFFLINE_SHELL = "/offline"


def asset_version(filename: str) -> str | None:
    """A short hash of a static file's content (None when the file is missing, e.g. no npm).

    Read again whenever the file's size or modification time changes, so an edited script gets a new URL
    (and is never taken for its old minified copy, see assets.py) without restarting the server.
    """
    path = STATIC / filename
    try:
        found = path.stat()
    except OSError:
        return None
    return _content_hash(path, found.st_mtime_ns, found.st_size) if stat.S_ISREG(found.st_mode) else None


@lru_cache(maxsize=256)
def _content_hash(path: Path, _mtime_ns: int, _size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


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
        orientation="portrait", theme_color="#9a3f1c", background_color="#fbf8f3", lang=current_language(),
        description=_("Scan a badge, keep one genuine note, follow up for real."), icons=icons,
        shortcuts=[{"name": _("Scan a badge"), "url": "/scan"}, {"name": _("My badge"), "url": "/badge"}],
    )
    response.mimetype = "application/manifest+json"
    return response


@bp.route("/sw.js")
def service_worker():
    # The shell is kept in the reader's language; choosing another language changes this file, so the
    # browser installs a new worker with the shell in that language.
    language = current_language()
    catalog = js_catalog_url(language)
    assets = shell_assets() + [catalog]
    shell = url_for("pwa.offline", lang=language)
    version = hashlib.sha256("|".join(assets + [shell, _shell_fingerprint()]).encode()).hexdigest()[:12]
    body = render_template("pwa/sw.js", version=version, assets=assets, shell=shell,
                           outbox=static_url("js/outbox.js"), push=static_url("js/sw-push.js"), catalog=catalog,
                           icon=static_url("icons/icon-192.png"))
    response = Response(body, mimetype="application/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@lru_cache(maxsize=1)
def _shell_fingerprint() -> str:
    templates = Path(current_app.root_path) / "templates"
    files = [templates / "pwa" / "offline.html", templates / "base.html", templates / "_scanner.html"]
    catalogs = sorted((Path(current_app.root_path) / "translations").glob("*/LC_MESSAGES/messages.mo"))
    return hashlib.sha256(b"".join(f.read_bytes() for f in files + catalogs if f.exists())).hexdigest()


def js_catalog_url(language: str) -> str:
    """The scripts' messages for a language, at a URL that changes with them."""
    return url_for("i18n.js_catalog", language=language, v=js_catalog_version(language))


@bp.route(OFFLINE_SHELL)
def offline():
    """The offline shell: the same for everyone reading a language (`?lang=`), so the service worker may keep it."""
    language = valid_language(request.args.get("lang")) or current_language()
    with force_locale(language):
        response = Response(render_template("pwa/offline.html", shell=True))
    response.headers["Cache-Control"] = "no-cache"
    return response
