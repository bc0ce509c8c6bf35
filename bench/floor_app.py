"""The *floor* for note writes (`floor_app:app`): the least code doing a note write's essential work.

Served by the same gunicorn settings and sent the same requests as the real app in bench/note_writes.py.
Per POST /c/<token> it does, against the app's own database (SQLite in WAL mode, or PostgreSQL):
  the signed session cookie names the sign-in session, whose row (still live) names the user;
  the CSRF token is checked against the session (Flask-WTF's check, as the app);
  the badge is looked up; the note upserted (one note per author and person);
  on a new note its digest prompt is inserted; commit; 302 back to the page.
No forms, ORM, templates, limits, history or event tagging: what is left is the floor (raw sqlite3 or psycopg).
"""
from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from datetime import datetime, timedelta, timezone

from flask import Flask, abort, redirect, request, session
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

app = Flask(__name__)
app.config.update(SECRET_KEY=os.environ["SECRET_KEY"], WTF_CSRF_TIME_LIMIT=None)
URL = os.environ["DATABASE_URL"]
POSTGRES = URL.startswith("postgresql")
local = threading.local()


def connection():
    """This thread's connection, in autocommit mode: the transaction is the explicit BEGIN ... COMMIT below."""
    if not hasattr(local, "db"):
        if POSTGRES:
            import psycopg

            local.db = psycopg.connect(URL.replace("+psycopg", ""), autocommit=True)
        else:
            local.db = sqlite3.connect(URL.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
            local.db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;")
    return local.db


def sql(statement: str) -> str:
    return statement.replace("?", "%s") if POSTGRES else statement


SESSION_USER = sql("SELECT user_id FROM login_sessions WHERE id = ?")
BADGE_OWNER = sql("SELECT user_id FROM badges WHERE token = ? AND replaced_at IS NULL")
INSERT_NOTE = sql("INSERT INTO notes (id, author_id, subject_id, body, offer, met_at, created_at, updated_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
INSERT_PROMPT = sql("INSERT INTO prompts (user_id, note_id, kind, due_at, status, next_attempt_at, attempts, "
                    "created_at) VALUES (?, ?, 'digest', ?, 'pending', ?, 0, ?)")
UPDATE_NOTE = sql("UPDATE notes SET body = ?, offer = ?, updated_at = ? WHERE author_id = ? AND subject_id = ?")


def stored(moment: datetime):
    """A time as the app stores it: a naive UTC datetime (on SQLite, its text, as SQLAlchemy writes it)."""
    return moment if POSTGRES else moment.isoformat(" ")


@app.post("/c/<token>")
def write_note(token: str):
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        abort(400)
    db, moment = connection(), datetime.now(timezone.utc).replace(tzinfo=None)
    now = stored(moment)
    row = db.execute(SESSION_USER, (session.get("_user_id"),)).fetchone()
    if row is None:
        return redirect("/login")
    badge = db.execute(BADGE_OWNER, (token,)).fetchone()
    if badge is None:
        abort(404)
    note_id, body, offer = str(uuid.uuid4()), request.form["body"], request.form.get("offer", "")
    db.execute("BEGIN" if POSTGRES else "BEGIN IMMEDIATE")
    created = db.execute(INSERT_NOTE, (note_id, row[0], badge[0], body, offer, now, now, now)).rowcount
    if created:
        due = stored(datetime.combine(moment.date() + timedelta(days=1), datetime.min.time()) + timedelta(hours=9))
        db.execute(INSERT_PROMPT, (row[0], note_id, due, due, now))
    else:
        db.execute(UPDATE_NOTE, (body, offer, now, row[0], badge[0]))
    db.execute("COMMIT")
    return redirect(request.path)
