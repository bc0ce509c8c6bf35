"""Sign up, log in, log out over HTTP."""
import re

import pytest
import sqlalchemy as sa

from relbuild.extensions import db, limiter
from relbuild.models import Prompt

from tests.conftest import PASSWORD


def test_register_signs_in_and_asks_for_profile(client):
    response = client.submit("/register", {"name": "Ada", "email": "ada@example.com", "password": PASSWORD,
                                           "timezone": "America/New_York"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/profile")
    page = client.get("/profile")
    assert page.status_code == 200 and b'value="Ada"' in page.data
    assert b'<option selected value="America/New_York">' in page.data


def test_register_with_taken_email_does_not_say_so(app, client, make_user):
    """Finding 4: /register never signs in an existing account, even with its own password."""
    user = make_user(email="taken@example.com")
    new = app.test_client().submit("/register", {"name": "X", "email": "free@example.com", "password": PASSWORD})
    taken = client.submit("/register", {"name": "X", "email": "taken@example.com", "password": "other good phrase"})
    assert (taken.status_code, taken.headers["Location"]) == (new.status_code, new.headers["Location"]) == (302, "/profile")
    assert client.get("/people").status_code == 302  # not signed in
    # the owner typing their own password on the sign-up form is not signed in either
    owner = client.submit("/register", {"name": "X", "email": user.email, "password": PASSWORD})
    assert owner.status_code == 302 and client.get("/people").status_code == 302
    with app.app_context():
        kinds = db.session.scalars(sa.select(Prompt.kind).where(Prompt.user_id == user.id)).all()
    assert kinds == ["signup_attempt"]  # the owner hears about it, once a day at most


@pytest.mark.parametrize("data, field, message", [
    ({"name": "", "email": "a@example.com", "password": PASSWORD}, "name", b"Tell people your name."),
    ({"name": "A", "email": "not-an-email", "password": PASSWORD}, "email", b"Enter an email address"),
    ({"name": "A", "email": "a@example.com", "password": "short"}, "password", b"at least 8 characters"),
    ({"name": "A", "email": "a@example.com", "password": "password123"}, "password", b"most common"),
])
def test_register_bad_input_is_explained_next_to_the_field(client, data, field, message):
    response = client.submit("/register", data)
    assert response.status_code == 422
    assert message in response.data
    assert f'id="{field}-error"'.encode() in response.data
    assert client.get("/people").status_code == 302


def test_login_and_logout_really_end_the_session(client, make_user):
    user = make_user()
    assert client.submit("/login", {"email": user.email.upper(), "password": PASSWORD}).status_code == 302
    assert client.get("/people").status_code == 200
    stolen = client.get_cookie("session").value
    assert client.submit("/logout").status_code == 302
    assert client.get("/people").status_code == 302
    # replaying the old cookie does not sign anyone in: the server-side session is gone
    client.set_cookie("session", stolen)
    assert client.get("/people").status_code == 302


def test_login_wrong_password_gives_one_message(client, make_user):
    user = make_user()
    wrong = client.submit("/login", {"email": user.email, "password": "not the password"})
    unknown = client.submit("/login", {"email": "nobody@example.com", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    message = b"That email and password do not match an account"
    assert message in wrong.data and message in unknown.data


def test_login_gives_a_new_session(client, make_user):
    user = make_user()
    client.get("/login")
    before = client.get_cookie("session").value
    client.submit("/login", {"email": user.email, "password": PASSWORD})
    after = client.get_cookie("session")
    assert after.value != before
    assert after.http_only and after.same_site == "Lax"


def test_login_returns_to_next_but_never_to_another_site(client, make_user):
    user = make_user()
    to_badge = client.submit(f"/login?next=/c/{user.token}", {"email": user.email, "password": PASSWORD})
    assert to_badge.headers["Location"] == f"/c/{user.token}"
    client.submit("/logout")
    away = client.submit("/login?next=//evil.example/", {"email": user.email, "password": PASSWORD})
    assert away.headers["Location"] == "/people"


def test_pages_that_need_an_account_send_visitors_to_log_in(client):
    for url in ("/people", "/profile", "/badge", "/badge/qr.svg", "/badge/qr.png"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_rate_limit_on_login_gives_a_friendly_429(client):
    limiter.enabled = True
    codes = [client.submit("/login", {"email": "a@example.com", "password": "wrong guess"}).status_code
             for _ in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    limited = client.submit("/login", {"email": "A@example.com", "password": "wrong guess"})
    assert limited.status_code == 429 and b"Slow down" in limited.data
    # the limit is per account: another address can still try
    assert client.submit("/login", {"email": "b@example.com", "password": "wrong guess"}).status_code == 401


def test_csrf_token_is_in_every_page_head(client):
    page = client.get("/register")
    assert re.search(rb'<meta name="csrf-token" content="[^"]+">', page.data)
