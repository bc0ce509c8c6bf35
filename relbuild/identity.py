"""Who a request is signed in as, known without loading the account, and the Core connection for such reads.

Rate limits, the page language and caching headers ask who is signed in on every request, and a note
write needs no more than that: one small query answers it, kept for the request, without loading the
account (an ORM object) or opening an ORM session, which together cost several times the query. Views
that show or change the account use Flask-Login's `current_user`, as usual; once it is loaded, `identity()`
answers from it.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, g, session

from .extensions import db
from .services.accounts import load_session_identity


def identity():
    """The signed-in account (`current_user` if already loaded, else an `Identity`), or None for a visitor."""
    loaded = g.get("_login_user")
    if loaded is not None:
        return loaded if loaded.is_authenticated else None
    if "relbuild_identity" not in g:
        session_id = session.get("_user_id")
        g.relbuild_identity = load_session_identity(core_connection(), session_id) \
            if isinstance(session_id, str) else None
    return g.relbuild_identity


def core_connection() -> sa.Connection:
    """A connection of the request's own for SQLAlchemy Core statements outside the ORM session.

    Taken from the pool on first use and given back when the request ends. Whoever writes on it commits.
    """
    if "relbuild_connection" not in g:
        g.relbuild_connection = db.engine.connect()
    return g.relbuild_connection


def _close_connection(_error=None) -> None:
    connection = g.pop("relbuild_connection", None)
    if connection is not None:
        connection.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_connection)
