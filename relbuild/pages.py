"""Home, the scanner entry page and health."""
import hmac
import ipaddress

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

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


@bp.route("/more")
@login_required
def more():
    """The fifth tab: profile, events and account, so the header stays one line."""
    return render_template("pages/more.html")


def _may_see_details() -> bool:
    """The health token, or a request from this machine that no proxy passed on."""
    token = current_app.config["HEALTHZ_TOKEN"]
    given = request.args.get("token") or request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if token and given and hmac.compare_digest(token.encode(), given.encode()):
        return True
    try:
        local = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
    # Without PROXY_FIX_HOPS, a proxy on this machine makes everyone look local: its header gives it away.
    return local and (current_app.config["PROXY_FIX_HOPS"] > 0 or "X-Forwarded-For" not in request.headers)


@bp.route("/healthz")
def healthz():
    """"ok" or "not ok" for anyone; the database, the worker's last pass and the backlog for monitors.

    Details need HEALTHZ_TOKEN (?token= or Authorization: Bearer) or a request from the machine itself.
    """
    try:
        db.session.execute(sa.text("SELECT 1"))
        current = status()
    except Exception as exc:  # report, never raise: this is what monitors poll
        db.session.rollback()
        if not _may_see_details():
            return jsonify(status="not ok"), 503
        return jsonify(status="not ok", database=f"error: {exc.__class__.__name__}"), 503
    if not _may_see_details():
        return jsonify(status="ok")
    last = current.last_pass
    age = (utcnow() - last.finished_at).total_seconds() if last else None
    return jsonify(
        status="ok",
        database="ok",
        worker={"last_pass": last.finished_at.isoformat() + "Z" if last else None,
                "seconds_ago": round(age) if age is not None else None,
                "stale": age is None or age > WORKER_STALE_SECONDS},
        backlog={"due_now": current.due_now, "sending": current.sending, "failed": current.failed,
                 "scheduled": current.scheduled},
    )
