"""English and French: the catalogs are complete, the language is chosen as promised, and what a person reads
(pages, form errors, dates, numbers, plurals, scripts' messages, coaching) is in their language."""
from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask_babel import force_locale

from relbuild.extensions import db
from relbuild.i18n import format_moment, js_messages, languages, ngettext, number, percent
from relbuild.models import User
from relbuild.services.notes import coach_note

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "relbuild" / "translations"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "lazy_ngettext": (1, 2), "t": None, "tn": (1, 2)}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def source_messages() -> set:
    """What pybabel extracts from the code right now (babel.cfg's methods), not what a catalog last saw."""
    method_map = [("relbuild/**.py", "python"), ("relbuild/templates/**.html", "jinja2"),
                  ("relbuild/templates/**.txt", "jinja2"), ("relbuild/static/js/**.js", "javascript")]
    options = {"relbuild/templates/**.html": {"extensions": "jinja2.ext.i18n"},
               "relbuild/templates/**.txt": {"extensions": "jinja2.ext.i18n"}}
    found = set()
    for _name, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map=options, keywords=KEYWORDS):
        if isinstance(message, tuple):
            message = tuple(m for m in message if m is not None)
            found.add(message if len(message) > 1 else message[0])
        elif message:
            found.add(message)
    return found


def catalog(language: str):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle)


def test_babel_cfg_and_the_test_extract_the_same_way():
    config = (ROOT / "babel.cfg").read_text()
    for pattern in ("[python: relbuild/**.py]", "[jinja2: relbuild/templates/**.html]",
                    "[jinja2: relbuild/templates/**.txt]", "[javascript: relbuild/static/js/**.js]"):
        assert pattern in config


def test_every_message_in_the_code_has_a_french_translation_with_the_same_placeholders():
    messages = source_messages()
    assert len(messages) > 500
    french = catalog("fr")
    problems = []
    for message in sorted(messages, key=str):
        entry = french.get(message)
        if entry is None or entry.fuzzy:
            problems.append(f"not translated (run make translations, then translate): {message!r}")
            continue
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if not all(forms):
            problems.append(f"empty translation: {message!r}")
            continue
        wanted = set(PLACEHOLDER.findall(" ".join(message if isinstance(message, tuple) else [message])))
        for form in forms:
            if set(PLACEHOLDER.findall(form)) != wanted:
                problems.append(f"placeholders differ: {message!r} → {form!r}")
            # Markup in a message: the same tags, in any order the language needs.
            source = message[0] if isinstance(message, tuple) else message
            if sorted(re.findall(r"</?\w+", form)) != sorted(re.findall(r"</?\w+", source)):
                problems.append(f"tags differ: {message!r} → {form!r}")
    # Babel's own checks (python-format and plural forms), as `pybabel compile` runs them.
    for entry, errors in french.check():
        problems += [f"{entry.id!r}: {error}" for error in errors]
    assert problems == []


def test_the_languages_are_the_catalog_folders():
    assert languages() == ("en", "fr")
    assert {p.name for p in TRANSLATIONS.iterdir() if p.is_dir()} == {"en", "fr"}


def test_a_visitors_language_comes_from_the_browser_then_english(client):
    french = client.get("/", headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="fr"' in french and "Faites d’une bonne conversation une vraie relation." in french
    english = client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en"' in english and "Turn a good conversation into a relationship." in english
    assert '<html lang="en"' in client.get("/").get_data(as_text=True)


def test_the_language_switch_works_without_script_and_returns_to_the_page(client):
    page = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'action="/language"' in page and 'name="language" value="fr"' in page and ">Français<" in page
    response = client.post("/language", data={"language": "fr", "next": "/login?next=/people",
                                              "csrf_token": client.csrf_token()})
    assert response.status_code == 303 and response.headers["Location"].endswith("/login?next=/people")
    page = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="fr"' in page and "Mot de passe oublié\u00a0?" in page
    # Never sends anyone to another site, and an unknown language is English.
    assert client.post("/language", data={"language": "xx", "next": "//evil.example",
                                          "csrf_token": client.csrf_token()}).headers["Location"] == "/"
    assert '<html lang="en"' in client.get("/login").get_data(as_text=True)


def test_the_switch_needs_the_csrf_token(client):
    assert client.post("/language", data={"language": "fr"}).status_code == 400


def test_sign_up_takes_the_browsers_language_and_the_profile_changes_it(app, client):
    client.submit("/register", {"name": "Zoé Tremblay", "email": "zoe@example.com",
                                "password": "correct horse battery"}, headers={"Accept-Language": "fr-CA"})
    with app.app_context():
        assert db.session.scalar(db.select(User.language).where(User.email == "zoe@example.com")) == "fr"
    # Signed in, the saved language wins over the browser's.
    profile = client.get("/profile", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="fr"' in profile and "Votre profil" in profile
    assert re.search(r'<option selected value="fr">Français</option>|<option value="fr" selected>', profile)
    response = client.submit("/profile", {"name": "Zoé Tremblay", "language": "en", "timezone": "America/Montreal"},
                             headers={"Accept-Language": "fr"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert '<html lang="en"' in page and "Profile saved." in page
    with app.app_context():
        assert db.session.scalar(db.select(User.language).where(User.email == "zoe@example.com")) == "en"
    refused = client.submit("/profile", {"name": "Zoé Tremblay", "language": "xx"})
    assert refused.status_code == 422 and "Pick a language from the list." in refused.get_data(as_text=True)


def test_form_errors_are_french_including_wtforms_own(client):
    page = client.submit("/register", {"name": "", "email": "", "password": ""},
                         headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Indiquez votre nom." in page and "Saisissez votre adresse courriel." in page
    # WTForms' built-in messages come from its own French catalog.
    too_long = client.submit("/login", {"email": "a@example.com", "password": "x" * 300},
                             headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Field cannot be longer" not in too_long and "caractères" in too_long


def test_error_pages_are_french(client):
    page = client.get("/no-such-page", headers={"Accept-Language": "fr"})
    assert page.status_code == 404 and "Nous n’avons pas trouvé cette page" in page.get_data(as_text=True)
    api = client.put("/api/notes/x", json={}, headers={"Accept-Language": "fr"})
    assert api.status_code in (400, 401, 404) and api.is_json


def test_dates_numbers_percentages_and_plurals_in_french(app):
    with app.test_request_context(), force_locale("fr"):
        assert format_moment(datetime(2026, 12, 2, 9, 30), "full") == "mercredi 2 décembre 2026, 09 h 30"
        assert format_moment(date(2026, 12, 2), "day") == "mercredi 2 décembre"
        assert percent(1) == "100\xa0%"  # a no-break space before %, as French typography wants
        assert number(12345) == "12\u202f345"
        assert ngettext("%(num)d note", "%(num)d notes", 1) == "1 note"
        assert ngettext("%(num)d note", "%(num)d notes", 2) == "2 notes"
        assert ngettext("%(num)d note", "%(num)d notes", 0) == "0 note"  # French: 0 takes the singular
    with app.test_request_context(), force_locale("en"):
        assert format_moment(datetime(2026, 12, 2, 9, 30), "full") == "Wednesday 2 December 2026, 09:30"
        assert percent(1) == "100%" and number(12345) == "12,345"
        assert ngettext("%(num)d note", "%(num)d notes", 0) == "0 notes"


def test_the_scripts_catalog_is_json_in_the_language_with_plural_forms(client):
    response = client.get("/i18n/fr.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    messages = response.get_json()
    assert messages["Offline"] == "Hors ligne"
    assert messages["%(num)d note waiting to sync"] == ["%(num)d note en attente de synchronisation",
                                                         "%(num)d notes en attente de synchronisation",
                                                         "%(num)d notes en attente de synchronisation"]
    assert set(messages) == set(js_messages()) and len(messages) > 30
    assert client.get("/i18n/en.json").get_json() == {}
    assert client.get("/i18n/xx.json").status_code == 404
    # The page names its catalog; no inline script carries it.
    page = client.get("/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert re.search(r'<html lang="fr" data-catalog="/i18n/fr\.json\?v=\w+"', page)


def test_the_offline_shell_and_the_service_worker_follow_the_language(client):
    shell = client.get("/offline?lang=fr").get_data(as_text=True)
    assert '<html lang="fr"' in shell and "Vous êtes hors ligne" in shell
    worker = client.get("/sw.js", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '"/offline?lang=fr"' in worker and "/i18n/fr.json?v=" in worker
    assert 'self.RELBUILD_LANGUAGE = "fr";' in worker  # outbox.js explains refused notes in French, page closed
    english = client.get("/sw.js", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '"/offline?lang=en"' in english


@pytest.mark.parametrize("note", ["Super discussion !", "Personne sympa, bonne discussion sur le stage",
                                  "great chat"])
def test_coaching_spots_vague_notes_in_french_too(app, note):
    with app.test_request_context(), force_locale("fr"):
        assert coach_note(note).startswith("Vous vous remercierez plus tard")


def test_a_specific_french_note_is_not_coached(app):
    with app.test_request_context(), force_locale("fr"):
        assert coach_note("Elle construit une appli de covoiturage pour sa thèse ; je lui envoie le lien du "
                          "meetup UX de Montréal.") is None


def test_french_typography_keeps_punctuation_with_its_word():
    """A no-break space before : ; ? ! » and after «, so a line never starts with "?" on a narrow phone."""
    loose = [entry.id for entry in catalog("fr") if entry.id and any(
        re.search(r" [:;?!»]|« ", form) for form in (entry.string if isinstance(entry.string, tuple)
                                                       else (entry.string,)))]
    assert loose == []


def test_the_429_and_500_pages_and_json_errors_are_french(app):
    from werkzeug.exceptions import InternalServerError, TooManyRequests

    from relbuild.web import _error_page

    for error, title in ((TooManyRequests(), "Ralentissez un peu"),
                         (InternalServerError(), "Un problème est survenu de notre côté")):
        with app.test_request_context("/people", headers={"Accept-Language": "fr"}):
            page, status = _error_page(error)
            assert status == error.code and f"<h1>{title}</h1>" in page and '<html lang="fr"' in page
        with app.test_request_context("/api/notes/x", headers={"Accept-Language": "fr"}):
            response, status = _error_page(error)
            assert response.get_json()["message"] == f"{title}."


# Sentences in the code that no person reads: the operators' CLI, log lines, the coaching's phrase list.
NOT_READ = {"relbuild/cli.py"}
NOT_READ_TEXT = ("could not render prompt %s", "passkey registration refused: %s", "push service answered ")


def test_no_sentence_in_the_python_code_escapes_translation():
    """A string of three or more words that is not a docstring or a gettext argument is a sentence someone
    forgot to mark (`flash("...")`, `title="..."`): found here, it cannot reach a French reader in English."""
    import ast

    from relbuild.services.notes import VAGUE_PHRASES

    loose = []
    for path in sorted((ROOT / "relbuild").rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if name in NOT_READ:
            continue
        tree = ast.parse(path.read_text())
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and re.search(r"[A-Za-z]+ [a-z]+ [a-z]+", node.value)):
                continue
            parent = parents.get(node)
            if isinstance(parent, ast.Expr) or node.value in VAGUE_PHRASES or node.value in NOT_READ_TEXT:
                continue
            call = parent if isinstance(parent, ast.Call) else None
            # pybabel extracts `words._("…")` as it does `_("…")`: it reads the name before the parenthesis.
            called = (getattr(call.func, "id", None) or getattr(call.func, "attr", "")) if call is not None else ""
            if called in ("_", "_l", "gettext", "ngettext", "lazy_gettext", "lazy_ngettext"):
                continue
            loose.append(f"{name}:{node.lineno}: {node.value[:60]!r}")
    assert loose == []


def test_no_english_string_hides_inside_a_template_expression():
    """`{{ {"digest": "your notes about"}[kind] }}` is invisible to pybabel: every quoted phrase in a Jinja
    expression must be inside _()."""
    loose = []
    for path in sorted((ROOT / "relbuild" / "templates").rglob("*.html")):
        for number_, line in enumerate(path.read_text().splitlines(), 1):
            for expression in re.findall(r"{[{%](.*?)[}%]}", line):
                for phrase in re.findall(r"""(?<!_\()(["'])([A-Za-z][a-z]+ [a-z][^"']*)\1""", expression):
                    loose.append(f"{path.relative_to(ROOT)}:{number_}: {phrase[1]!r}")
    assert loose == []
