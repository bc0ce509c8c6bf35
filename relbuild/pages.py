"""Home, the scanner entry page and health."""
import sqlalchemy as sa
from flask import Blueprint, jsonify, redirect, render_template, url_for
from flask_login import current_user

from .extensions import db
from .forms import ConnectForm

bp = Blueprint("pages", __name__)


@bp.route("/")
def home():
    if current_user.is_authenticated:
        return redirect(url_for("people.index"))
    return render_template("pages/home.html")


@bp.route("/scan")
def scan():
    return render_template("pages/scan.html", form=ConnectForm())


@bp.route("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # report, never raise: this is what monitors poll
        database = f"error: {exc.__class__.__name__}"
    return jsonify(database=database), 200 if database == "ok" else 503
