"""What every response shares: security headers, error pages, template helpers."""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone

from flask import Flask, jsonify, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import IntegerConverter

from .identity import identity
from .i18n import format_moment, gettext as _, lazy_gettext as _l
from .pwa import asset_version, js_catalog_url, static_url
from .services.accounts import outbox_key
from .services.notes import VAGUE_PHRASES
from .services.profiles import zone

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "media-src 'self' blob:",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

ERROR_TITLES = {
    400: _l("Something in that request was not right"),
    401: _l("Please log in"),
    403: _l("That is not yours to see"),
    404: _l("We could not find that page"),
    405: _l("That action is not allowed here"),
    410: _l("This is no longer here"),
    413: _l("That was too large"),
    429: _l("Slow down a little"),
    500: _l("Something went wrong on our side"),
}


# Every response carries these (a view may set its own first); HSTS only over HTTPS.
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", "camera=(self), microphone=(), geolocation=(), payment=()"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def _security_headers(response):
    headers = response.headers
    present = {name.lower() for name, _value in headers.items()}  # one pass: each lookup would scan them again
    added = [header for header in SECURITY_HEADERS if header[0].lower() not in present]
    if request.is_secure and "strict-transport-security" not in present:
        added.append(HSTS)
    if "cache-control" not in present and identity() is not None:
        added.append(("Cache-Control", "private, no-store"))
    headers.extend(added)
    return response


def localtime(value: datetime | None, style: str = "medium") -> str:
    """Format a stored UTC time in the viewer's time zone and language (styles: relbuild/i18n.py)."""
    if value is None:
        return ""
    viewer = current_user if current_user.is_authenticated else None
    return format_moment(value, style, tz=zone(viewer))


class DatabaseId(IntegerConverter):
    """`<int:…>` in URLs: only what an INTEGER id column holds, so a 30-digit id is a 404, not a database error."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", 2 ** 31 - 1)
        super().__init__(url_map, *args, **kwargs)


class UnreadableInput(BadRequest):
    """A request holding what no text field can: NUL characters, lone surrogates, JSON nested too deep."""

    description = _l("Part of what was sent is not text we can keep (it held a NUL character or broken "
                     "unicode). Nothing was saved: remove it and try again.")


# NUL is refused by PostgreSQL in any text column; a lone surrogate (only JSON's \ud800 escapes make one)
# is not UTF-8 and fails on every database.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _json_strings(value) -> Iterator[str]:
    stack = [value]
    while stack:  # a loop, not recursion: the JSON may be nested as deep as the parser allows
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _refuse_unreadable_input() -> None:
    """Refuse, before any view runs, input that would fail in the database rather than be refused."""
    texts = [request.path, *request.args.keys(), *(v for _, v in request.args.items(multi=True))]
    texts += [*request.form.keys(), *(v for _, v in request.form.items(multi=True))]
    if request.is_json:
        try:
            texts += _json_strings(request.get_json(silent=True))
        except RecursionError:
            raise UnreadableInput()
    # (A multipart part whose name has a line break comes out with the name None.)
    if any(isinstance(text, str) and UNSTORABLE.search(text) for text in texts):
        raise UnreadableInput()


def _error_page(error: HTTPException):
    code = error.code or 500
    message = None
    if isinstance(error, CSRFError):
        message = _("This form had expired. Go back, reload the page and try again: nothing was saved.")
    elif isinstance(error, UnreadableInput):
        message = str(error.description)
    if request.path.startswith("/api/"):
        code_name = {CSRFError: "csrf_failed", UnreadableInput: "bad_text"}.get(type(error), f"http_{code}")
        title = str(ERROR_TITLES.get(code, _("Something went wrong")))
        return jsonify(error=code_name, message=message or _("%(title)s.", title=title)), code
    return render_template("error.html", code=code, title=ERROR_TITLES.get(code, _("Something went wrong")),
                           message=message), code


def init_app(app: Flask) -> None:
    """Call before the blueprints are registered: their routes use the `int` converter set here."""
    app.url_map.converters["int"] = DatabaseId
    app.before_request(_refuse_unreadable_input)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _error_page)
    app.context_processor(lambda: {"vague_phrases": VAGUE_PHRASES, "shell": False})
    app.jinja_env.globals.update(static_url=static_url, asset_version=asset_version, outbox_key=outbox_key,
                                 js_catalog_url=js_catalog_url)
    app.jinja_env.filters["localtime"] = localtime
    # Whole seconds: HTML's <time datetime> allows at most three decimals, and nobody reads microseconds.
    app.jinja_env.filters["isotime"] = \
        lambda v: v.replace(tzinfo=timezone.utc, microsecond=0).isoformat() if v else ""
