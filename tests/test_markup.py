"""0 errors from the Nu HTML checker on every page of the app, for every kind of visitor, and on forms sent back
with errors. Pages come from app.url_map (as in the authorization matrix), so a new page is checked as it lands."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from relbuild.extensions import db
from relbuild.models import User
from tests.perception import nu_errors
from tests.test_authorization import ROLES, client_as, routes, url_arguments, world  # noqa: F401  (world: fixture)


def _html(response) -> str | None:
    return response.get_data(as_text=True) if response.mimetype == "text/html" else None


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_page_and_every_refused_form_passes_the_nu_checker(app, world, language):  # noqa: F811
    documents: dict[str, str] = {}
    with app.app_context():  # signed in: their own language; signed out: the browser's
        db.session.execute(update(User).values(language=language))
        db.session.commit()
    for method, rule in routes(app):
        for role in ROLES:
            client = client_as(app, world, role)
            client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
            with app.app_context(), app.test_request_context(base_url=app.config["BASE_URL"]):
                arguments = url_arguments(app, world, rule.endpoint)
                url = app.url_map.bind("relbuild.test").build(rule.endpoint, {a: arguments[a] for a in rule.arguments})
            if method == "GET":
                response = client.get(url)
            elif method == "POST":  # a valid CSRF token and nothing else: the form's error state
                response = client.post(url, data={"csrf_token": client.csrf_token()})
            else:
                continue
            html = _html(response)
            if html:
                if not 300 <= response.status_code < 400:  # (Werkzeug's own redirect page is not ours)
                    assert f'<html lang="{language}"' in html, (method, url, role)
                documents[f"{method} {url} as {role} ({response.status_code})"] = html
    assert len(documents) > 100
    assert nu_errors(documents) == []
