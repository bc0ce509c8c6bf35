"""What every page shares: CSRF, security headers, no inline script, error pages, health."""
import re
from pathlib import Path

import sqlalchemy as sa

from relbuild.extensions import db
from relbuild.models import Note

TEMPLATES = Path(__file__).resolve().parent.parent / "relbuild" / "templates"


CSRF_EXEMPT = {"followups.unsubscribe"}  # RFC 8058 one-click unsubscribe: a cookie-less POST by design


def test_every_post_without_csrf_token_is_refused(app, client, make_user, login):
    person, me = make_user(), make_user()
    login(client, me)
    samples = {"token": person.token, "public_id": person.public_id, "prompt_id": 1, "action": "done",
               "event_id": 1, "code": "ABCDEFGH", "import_id": "00000000-0000-4000-8000-000000000000",
               "invitation_id": 1, "answer": "accept"}
    adapter = app.url_map.bind("relbuild.test")
    rules = [rule for rule in app.url_map.iter_rules() if "POST" in rule.methods]
    assert {"auth.login", "auth.register", "auth.logout", "profile.edit", "badges.connect", "badges.person",
            "badges.replace", "people.person", "followups.act", "followups.email_action"} <= {r.endpoint for r in rules}
    for rule in rules:
        if rule.endpoint in CSRF_EXEMPT:
            continue
        url = adapter.build(rule.endpoint, {arg: samples[arg] for arg in rule.arguments})
        response = client.post(url, data={"body": "A note that must not be saved", "name": "X",
                                          "email": "x@example.com", "password": "long enough pass", "code": "ABCDEFGH"})
        assert response.status_code == 400, rule
        assert b"This form had expired" in response.data
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Note)) == 0
    assert client.get("/people").status_code == 200  # still signed in: logout without a token did nothing


def test_get_never_changes_state(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in {"auth.logout", "badges.replace"}:
            assert "GET" not in rule.methods, rule.rule


def test_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    for part in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert part in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "camera=(self)" in response.headers["Permissions-Policy"]
    https = client.get("/", base_url="https://relbuild.test")
    assert "max-age" in https.headers["Strict-Transport-Security"]


def test_templates_have_no_inline_script_or_style():
    for path in TEMPLATES.rglob("*.html"):
        # Email clients need inline styles, and print/ is WeasyPrint's input, never served: no script ever.
        if path.parent.name in ("email", "print"):
            assert "<script" not in path.read_text()
            continue
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert not re.search(r"\sstyle=|<style", text), path
        assert not re.search(r"\son[a-z]+=", text), path


def test_user_text_is_escaped(client, make_user, login):
    person = make_user(name="<script>alert(1)</script>", headline='"><img src=x onerror=alert(2)>')
    login(client, make_user())
    page = client.get(f"/c/{person.token}").data.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page


def test_signed_in_pages_are_not_cached(client, make_user, login):
    login(client, make_user())
    assert "no-store" in client.get("/people").headers["Cache-Control"]


def test_error_pages_are_friendly(client):
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and b"We could not find that page" in missing.data
    wrong_method = client.put("/people")
    assert wrong_method.status_code == 405


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["database"] == "ok"


def test_home_for_visitors_and_members(client, make_user, login):
    assert b"Sign up" in client.get("/").data
    login(client, make_user())
    assert client.get("/").headers["Location"] == "/people"


def test_bottom_bar_for_members(client, make_user, login):
    login(client, make_user())
    page = client.get("/people").data.decode()
    nav = re.search(r'<nav class="tabs".*?</nav>', page, re.S).group(0)
    for label in ("Scan", "My badge", "People"):
        assert label in nav
