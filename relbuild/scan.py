"""The in-app scanner page and its photo fallback."""
from flask import Blueprint, current_app, redirect, render_template, request

from .extensions import limiter
from .forms import ConnectForm
from .services import RelbuildError
from .i18n import gettext as _
from .services.scanning import classify, decode_photo

bp = Blueprint("scan", __name__)


@bp.route("/scan")
def page():
    return render_template("scan/page.html", form=ConnectForm())


@bp.route("/scan/photo", methods=["POST"])
@limiter.limit("30/minute")
def photo():
    """A photo of a QR code, read on the server when the camera scanner cannot run."""
    upload = request.files.get("photo")
    problem, status = None, 422
    if upload is None or not upload.filename:
        problem = _("Choose or take a photo of their QR code.")
    else:
        try:
            texts = decode_photo(upload.read())
        except RelbuildError as error:
            problem, status = error.message, 413 if error.status == 413 else 422
        else:
            scans = [classify(text, current_app.config["BASE_URL"]) for text in texts]
            for scan in scans:
                if scan.kind != "other":
                    return redirect(scan.path)
            problem = (_("This QR code is not a Relbuild badge. It contains: %(text)s", text=scans[0].text[:200])
                       if scans else
                       _("No QR code found in that photo. Hold the phone steady, close enough to fill the frame."))
    return render_template("scan/page.html", form=ConnectForm(), photo_problem=problem), status
