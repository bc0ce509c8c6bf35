"""The *floor* for note writes (`floor_app:app`): the least code doing a note write's essential work.

Served by the same gunicorn settings and sent the same requests as the real app in bench/note_writes.py.
Per POST /c/<token> it does, against the app's own SQLite (WAL) database:
  the signed session cookie names the sign-in session, whose row (still live) names the user;
  the CSRF token is checked against the session (Flask-WTF's check, as the app);
  the badge is looked up; the note upserted (one note per author and person);
  on a new note its digest prompt is inserted; commit; 302 back to the page.
No forms, ORM, templates, limits, history or event tagging: what is left is the floor.
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
DATABASE = os.environ["DATABASE_URL"].removeprefix("sqlite:///")
local = threading.local()


def connection() -> sqlite3.Connection:
    if not hasattr(local, "db"):
        local.db = sqlite3.connect(DATABASE, isolation_level=None, check_same_thread=False)
        local.db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;")
    return local.db


@app.post("/c/<token>")
def write_note(token: str):
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        abort(400)
    db, moment = connection(), datetime.now(timezone.utc).replace(tzinfo=None)
    now = moment.isoformat(" ")  # stored as SQLAlchemy stores a DateTime on SQLite
    row = db.execute("SELECT user_id FROM login_sessions WHERE id = ?", (session.get("_user_id"),)).fetchone()
    if row is None:
        return redirect("/login")
    badge = db.execute("SELECT user_id FROM badges WHERE token = ? AND replaced_at IS NULL", (token,)).fetchone()
    if badge is None:
        abort(404)
    note_id, body, offer = str(uuid.uuid4()), request.form["body"], request.form.get("offer", "")
    db.execute("BEGIN IMMEDIATE")
    created = db.execute("INSERT OR IGNORE INTO notes (id, author_id, subject_id, body, offer, met_at, created_at, "
                         "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (note_id, row[0], badge[0], body, offer, now, now, now)).rowcount
    if created:
        due = (datetime.combine(moment.date() + timedelta(days=1), datetime.min.time()) + timedelta(hours=9)).isoformat(" ")
        db.execute("INSERT INTO prompts (user_id, note_id, kind, due_at, status, next_attempt_at, attempts, created_at) "
                   "VALUES (?, ?, 'digest', ?, 'pending', ?, 0, ?)", (row[0], note_id, due, due, now))
    else:
        db.execute("UPDATE notes SET body = ?, offer = ?, updated_at = ? WHERE author_id = ? AND subject_id = ?",
                   (body, offer, now, row[0], badge[0]))
    db.execute("COMMIT")
    return redirect(request.path)
