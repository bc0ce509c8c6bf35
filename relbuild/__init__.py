"""Relbuild: scan a badge, keep one genuine note, get it back as a follow-up."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from dotenv import load_dotenv
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config
from .extensions import compress, csrf, db, limiter, login_manager, migrate
from .i18n import init_app as init_i18n, lazy_gettext


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers and one writer work at once; foreign keys make ON DELETE CASCADE real.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def create_app(overrides: dict | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, CLI."""
    load_dotenv()
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(config.from_environment(Path(app.instance_path)))
    app.config.update(overrides or {})

    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    csrf.init_app(app)
    compress.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Log in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # sessions are server-side rows; see services.accounts

    from . import (account, api, assets, auth, badges, cli, events, followups, identity, invitations, pages, passkeys,
                   people, profile, pwa, scan, verification, web)

    init_i18n(app)
    assets.init_app(app)
    identity.init_app(app)
    web.init_app(app)
    for module in (auth, passkeys, verification, profile, account, badges, people, followups, events, invitations, api,
                   pwa, scan, pages):
        app.register_blueprint(module.bp)
    cli.init_app(app)
    return app
