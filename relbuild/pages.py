"""Home, the scanner entry page and health."""
import sqlalchemy as sa
from flask import Blueprint, jsonify, redirect, render_template, url_for
from flask_login import current_user

from .extensions import db
from .models import utcnow
from .services.delivery import status

WORKER_STALE_SECONDS = 300

bp = Blueprint("pages", __name__)


@bp.route("/")
def home():
    if current_user.is_authenticated:
        return redirect(url_for("people.index"))
    return render_template("pages/home.html")


@bp.route("/healthz")
def healthz():
    """Database reachable, the follow-up worker's last pass and the backlog, for monitors."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        current = status()
    except Exception as exc:  # report, never raise: this is what monitors poll
        db.session.rollback()
        return jsonify(database=f"error: {exc.__class__.__name__}"), 503
    last = current.last_pass
    age = (utcnow() - last.finished_at).total_seconds() if last else None
    return jsonify(
        database="ok",
        worker={"last_pass": last.finished_at.isoformat() + "Z" if last else None,
                "seconds_ago": round(age) if age is not None else None,
                "stale": age is None or age > WORKER_STALE_SECONDS},
        backlog={"due_now": current.due_now, "sending": current.sending, "failed": current.failed,
                 "scheduled": current.scheduled},
    )
