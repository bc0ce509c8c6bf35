"""Languages: which one a person reads, locale-aware dates and numbers, the catalog scripts load.

Adding a language is adding one catalog: `pybabel init -i relbuild/translations/messages.pot
-d relbuild/translations -l xx`, translating it, and `make translations`. The list of languages
is read from the folders under relbuild/translations/, never written down anywhere else.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime as babel_format_datetime
from babel.numbers import format_decimal, format_percent
from babel.support import Translations
from flask import Blueprint, Response, abort, has_request_context, redirect, request
from flask_babel import Babel, force_locale, get_locale, gettext, lazy_gettext, lazy_ngettext, ngettext

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
SOURCE_LANGUAGE = "en"
COOKIE = "language"

babel = Babel()
bp = Blueprint("i18n", __name__)


@lru_cache(maxsize=1)
def languages() -> tuple[str, ...]:
    """The source language, then every language that has a catalog folder (sorted)."""
    found = sorted(p.name for p in TRANSLATIONS.iterdir()
                   if (p / "LC_MESSAGES" / "messages.po").is_file() and p.name != SOURCE_LANGUAGE)
    return (SOURCE_LANGUAGE, *found)


def language_names() -> list[tuple[str, str]]:
    """(code, the language's own name) for the language switch and the profile's select."""
    return [(code, Locale.parse(code).get_display_name(code).capitalize()) for code in languages()]


LANGUAGE_CHOICES = language_names


def valid_language(code: str | None) -> str | None:
    """`code` when it is a language we have (en, fr, or fr-CA read as fr), else None."""
    code = (code or "").strip().replace("_", "-").split("-")[0].lower()
    return code if code in languages() else None


def browser_language() -> str:
    """The best language for the browser's Accept-Language, else the source language."""
    if not has_request_context():
        return SOURCE_LANGUAGE
    return request.accept_languages.best_match(languages()) or SOURCE_LANGUAGE


def select_locale() -> str:
    """A signed-in person's own language; otherwise the switch's choice, the browser's, English."""
    if not has_request_context():
        return SOURCE_LANGUAGE
    from .identity import identity  # (imports the services, which import this module)

    who = identity()
    if who is not None:
        return valid_language(who.language) or SOURCE_LANGUAGE
    return valid_language(request.cookies.get(COOKIE)) or browser_language()


def current_language() -> str:
    return str(get_locale() or SOURCE_LANGUAGE).split("_")[0]


def in_language(code: str | None):
    """A context manager: gettext and the formatters below speak `code` (an email's recipient, an event)."""
    return force_locale(valid_language(code) or SOURCE_LANGUAGE)


# Date patterns are messages too: each language says how it writes a date (fr: "mercredi 2 décembre 2026, 09 h 30").
# Each is translated when used (one lookup a date, not one for every pattern).
_PATTERNS = {
    # Translators: a Babel date pattern (https://babel.pocoo.org/en/latest/dates.html). Day, month, year, time.
    "medium": lazy_gettext("d MMM y, HH:mm"),
    # Translators: a Babel date pattern. Day, month and year.
    "date": lazy_gettext("d MMM y"),
    # Translators: a Babel date pattern. Weekday, day, month, time.
    "day_time": lazy_gettext("EEE d MMM, HH:mm"),
    # Translators: a Babel date pattern. Weekday, day and month.
    "day": lazy_gettext("EEEE d MMMM"),
    # Translators: a Babel date pattern. Day and month.
    "day_month": lazy_gettext("d MMMM"),
    # Translators: a Babel date pattern. Day and short month.
    "day_short": lazy_gettext("d MMM"),
    # Translators: a Babel date pattern. The full date and time.
    "full": lazy_gettext("EEEE d MMMM y, HH:mm"),
    # Translators: a Babel date pattern. Weekday, day, month, year and time.
    "weekday_date_time": lazy_gettext("EEE d MMM y, HH:mm"),
    # Translators: a Babel date pattern. The time of day.
    "time": lazy_gettext("HH:mm"),
    # Translators: a Babel date pattern. Weekday and hour (the dashboard's hourly chart).
    "weekday_hour": lazy_gettext("EEE HH"),
    # Translators: a Babel date pattern. The hour (the dashboard's hourly chart).
    "hour": lazy_gettext("HH"),
}


def format_moment(value: datetime | None, style: str = "medium", tz=None) -> str:
    """A date and time in the current language. Naive values are UTC; `tz` converts (else shown as they are)."""
    if value is None:
        return ""
    if tz is not None:
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(tz)
    pattern = date_pattern(style)
    if not isinstance(value, datetime):  # a day (a digest's date): formatted as it is
        return format_day(value, pattern, current_language())
    return babel_format_datetime(value, pattern, tzinfo=value.tzinfo, locale=current_language())


def date_pattern(style: str) -> str:
    """The current language's Babel pattern for a style of _PATTERNS (any other text is a pattern itself)."""
    return str(_PATTERNS[style]) if style in _PATTERNS else style


@lru_cache(maxsize=512)
def format_day(day, pattern: str, language: str) -> str:
    """A day in a language's pattern (a follow-up pass writes the same few days in thousands of emails)."""
    return format_date(day, pattern, locale=language)


def number(value) -> str:
    """1,234 in English, 1 234 in French."""
    return format_decimal(value, locale=current_language())


def percent(value: float) -> str:
    """A share (0–1) as a percentage: "100%" in English, "100 %" in French."""
    return format_percent(value, locale=current_language())


@lru_cache(maxsize=16)
def _js_catalog(code: str) -> str:
    """The JavaScript's messages in one language, as JSON (msgid → text; plural forms as lists)."""
    if code == SOURCE_LANGUAGE:
        return json.dumps({})
    translations = Translations.load(str(TRANSLATIONS), [code], domain="messages")
    catalog: dict[str, object] = {}
    for key, text in translations._catalog.items():
        if isinstance(key, tuple):  # (msgid, n): a plural form
            msgid, index = key
            forms = catalog.setdefault(msgid, [])
            if isinstance(forms, list):
                forms.extend([""] * (index + 1 - len(forms)))
                forms[index] = text
        elif key and key in js_messages():
            catalog[key] = text
    return json.dumps({k: v for k, v in catalog.items() if k in js_messages()}, ensure_ascii=False,
                      sort_keys=True)


@lru_cache(maxsize=1)
def js_messages() -> frozenset[str]:
    """Every msgid the static JavaScript asks for (read from the scripts the way pybabel extracts them)."""
    from babel.messages.extract import extract_from_file

    found = set()
    for script in sorted((Path(__file__).resolve().parent / "static" / "js").glob("*.js")):
        for _line, message, _comments, _context in extract_from_file(
                "javascript", str(script), keywords={"t": None, "tn": (1, 2)}):
            found.add(message if isinstance(message, str) else message[0])  # plurals: keyed by the singular
    return frozenset(found)


@bp.route("/i18n/<language>.json")
def js_catalog(language: str):
    """The scripts' messages (a file of its own: no inline script carries them, so the CSP stays strict)."""
    if valid_language(language) != language:
        abort(404)
    response = Response(_js_catalog(language), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if request.args.get("v") else "no-cache"
    return response


def js_catalog_version(code: str) -> str:
    import hashlib

    return hashlib.sha256(_js_catalog(code).encode()).hexdigest()[:10]


@bp.route("/language", methods=["POST"])
def choose():
    """The signed-out visitor's switch: remember the language in a cookie and go back where they were."""
    from .auth import local_path

    code = valid_language(request.form.get("language")) or SOURCE_LANGUAGE
    back = local_path(request.form.get("next", "")) or "/"
    response = redirect(back, code=303)
    response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                        secure=request.is_secure)
    return response


def init_app(app) -> None:
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(TRANSLATIONS))
    app.jinja_env.add_extension("jinja2.ext.i18n")  # Flask-Babel installs gettext/ngettext; {% trans %} needs this
    app.jinja_env.globals.update(language_names=language_names, current_language=current_language,
                                 js_catalog_version=js_catalog_version)
    app.jinja_env.filters.update(number=number, percent=percent)
    app.register_blueprint(bp)


__all__ = ["babel", "current_language", "format_moment", "gettext", "in_language", "lazy_gettext", "lazy_ngettext",
           "languages", "ngettext", "number", "percent", "valid_language"]
