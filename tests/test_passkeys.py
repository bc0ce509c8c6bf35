"""Passkeys at the server: the rules py_webauthn and our own checks hold, with a software authenticator."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relbuild.extensions import db, limiter
from relbuild.models import LoginSession, Passkey, PasskeyChallenge, Prompt, User
from relbuild.services.accounts import PASSKEY_ONLY, reset_token
from relbuild.services.followups import CONFIRM_EMAIL, SIGNUP_ATTEMPT
from relbuild.services.verification import confirmation_token
from tests.conftest import PASSWORD
from tests.soft_authenticator import SoftAuthenticator

ORIGIN = "http://localhost:5112"


@pytest.fixture
def local(app):
    """BASE_URL on localhost: the RP ID is "localhost", the one origin accepted is ORIGIN."""
    old = app.config["BASE_URL"]
    app.config["BASE_URL"] = ORIGIN
    yield app
    app.config["BASE_URL"] = old


def post(client, url: str, body: dict | None = None):
    return client.post(url, json=body or {}, headers={"X-CSRFToken": client.csrf_token()})


def sign_up(client, phone: SoftAuthenticator, name="Pia Passkey", email="pia@example.com", **kwargs):
    options = post(client, "/api/passkeys/signup/options", {"name": name, "email": email, "timezone": "Europe/Paris"})
    assert options.status_code == 200, options.json
    assert options.json["authenticatorSelection"]["userVerification"] == "required"
    assert options.json["authenticatorSelection"]["residentKey"] == "required"
    return post(client, "/api/passkeys/signup", {"credential": phone.create(options.json, **kwargs)})


def sign_in(client, phone: SoftAuthenticator, **kwargs):
    options = post(client, "/api/passkeys/login/options").json
    assert options["userVerification"] == "required" and options["allowCredentials"] == []
    credential = phone.get(options, **kwargs)
    return post(client, "/api/passkeys/login", {"credential": credential}), credential


def signed_in_as(client) -> str | None:
    page = client.get("/account")
    return None if page.status_code != 200 else page.get_data(as_text=True)


def user(app, email="pia@example.com") -> User:
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.email == email))


def test_sign_up_sign_in_and_the_session_is_the_same_as_a_passwords(local, client, app):
    phone = SoftAuthenticator(ORIGIN)
    answer = sign_up(client, phone)
    assert answer.status_code == 200 and answer.json["redirect"] == "/profile"
    pia = user(app)
    assert pia.password_hash == PASSKEY_ONLY and pia.timezone == "Europe/Paris" and pia.email_confirmed_at is None
    with app.app_context():
        [key] = db.session.scalars(sa.select(Passkey)).all()
        assert key.user_id == pia.id and key.transports == ["internal"]
        assert db.session.scalar(sa.select(Prompt.kind).where(Prompt.user_id == pia.id)) == CONFIRM_EMAIL
        assert db.session.scalar(sa.select(PasskeyChallenge)) is None  # used up
    assert "pia@example.com" in signed_in_as(client)

    client.post("/logout", data={"csrf_token": client.csrf_token()})
    assert signed_in_as(client) is None
    answer, _ = sign_in(client, phone, )
    assert answer.status_code == 200 and answer.json["redirect"] == "/people"
    assert "pia@example.com" in signed_in_as(client)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginSession)) == 1
        key = db.session.scalar(sa.select(Passkey))
        assert key.sign_count == 1 and key.last_used_at is not None


def test_a_taken_address_gets_the_same_answer_no_session_no_passkey_and_its_owner_an_email(local, client, app,
                                                                                            make_user):
    owner = make_user(email="taken@example.com")
    fresh = sign_up(app.test_client(), SoftAuthenticator(ORIGIN), email="new@example.com")
    taken = sign_up(client, SoftAuthenticator(ORIGIN), email="taken@example.com")
    assert taken.status_code == fresh.status_code == 200 and taken.json == fresh.json
    assert signed_in_as(client) is None
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Passkey)) == 1  # the new account's only
        kinds = db.session.scalars(sa.select(Prompt.kind).where(Prompt.user_id == owner.id)).all()
        assert kinds == [SIGNUP_ATTEMPT]
        assert db.session.get(User, owner.id).password_hash != PASSKEY_ONLY


def test_a_replayed_assertion_is_refused(local, client, app):
    phone = SoftAuthenticator(ORIGIN)
    sign_up(client, phone)
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    first, credential = sign_in(client, phone)
    assert first.status_code == 200
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    again = post(client, "/api/passkeys/login", {"credential": credential})
    assert again.status_code == 400 and again.json["error"] == "passkey_challenge"
    assert signed_in_as(client) is None


def test_a_wrong_origin_or_rp_id_is_refused(local, client, app):
    phone = SoftAuthenticator(ORIGIN)
    sign_up(client, phone)
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    for kwargs in ({"origin": "http://localhost:6666"}, {"origin": "https://evil.example"},
                   {"rp_id": "evil.example"}):
        answer, _ = sign_in(client, phone, **kwargs)
        assert answer.status_code == 401 and answer.json["error"] == "passkey_refused", kwargs
    assert signed_in_as(client) is None
    # A registration made on another origin is refused too, and makes no account.
    other = sign_up(app.test_client(), SoftAuthenticator(ORIGIN), email="other@example.com",
                    origin="https://evil.example")
    assert other.status_code == 400 and user(app, "other@example.com") is None


def test_user_verification_is_required(local, client, app):
    unverified = sign_up(client, SoftAuthenticator(ORIGIN), verified=False)
    assert unverified.status_code == 400 and user(app) is None
    phone = SoftAuthenticator(ORIGIN)
    sign_up(client, phone)
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    answer, _ = sign_in(client, phone, verified=False)
    assert answer.status_code == 401 and signed_in_as(client) is None


def test_a_sign_counter_that_does_not_go_up_is_refused(local, client, app):
    phone = SoftAuthenticator(ORIGIN)
    sign_up(client, phone)
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    assert sign_in(client, phone)[0].status_code == 200
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    clone, _ = sign_in(client, phone, count=False)  # a copy of the key still at the old count
    assert clone.status_code == 401 and signed_in_as(client) is None


def test_a_removed_passkey_and_an_unknown_one_are_refused(local, client, app, make_user, login):
    phone = SoftAuthenticator(ORIGIN)
    dev = make_user(email="dev@example.com")
    login(client, dev)
    add_passkey(client, phone, PASSWORD)
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    assert sign_in(client, phone)[0].status_code == 200
    with app.app_context():
        key = db.session.scalar(sa.select(Passkey))
    removed = client.post(f"/account/passkeys/{key.public_id}/remove",
                          data={"csrf_token": client.csrf_token(), "password": PASSWORD}, follow_redirects=True)
    assert "removed: it no longer signs in" in removed.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    answer, _ = sign_in(client, phone)
    assert answer.status_code == 401 and answer.json["error"] == "passkey_unknown"
    stranger, _ = sign_in(client, _unknown())
    assert stranger.status_code == 401


def _unknown() -> SoftAuthenticator:
    other = SoftAuthenticator(ORIGIN)
    other.rp_id, other.user_handle = "localhost", None
    return other


def add_passkey(client, phone: SoftAuthenticator, password: str = ""):
    options = post(client, "/api/passkeys/add/options", {"password": password})
    assert options.status_code == 200, options.json
    answer = post(client, "/api/passkeys", {"credential": phone.create(options.json)})
    assert answer.status_code == 201, answer.json
    return options.json


def test_adding_a_passkey_asks_for_the_password_and_lists_the_ones_there_are(local, client, app, make_user, login):
    dev = make_user(email="dev@example.com")
    login(client, dev)
    wrong = post(client, "/api/passkeys/add/options", {"password": "not it"})
    assert wrong.status_code == 422 and wrong.json["error"] == "wrong_password"
    first = add_passkey(client, SoftAuthenticator(ORIGIN), PASSWORD)
    assert first["excludeCredentials"] == []
    second = add_passkey(client, SoftAuthenticator(ORIGIN), PASSWORD)
    assert len(second["excludeCredentials"]) == 1  # the phone that has one is not asked to make another
    assert first["user"]["id"] == second["user"]["id"]  # one user handle per account
    # The same credential cannot be registered twice (to this or any other account).
    again = SoftAuthenticator(ORIGIN)
    add_passkey(client, again, PASSWORD)
    options = post(client, "/api/passkeys/add/options", {"password": PASSWORD}).json
    duplicate = post(client, "/api/passkeys", {"credential": again.create(options)})
    assert duplicate.status_code == 409 and duplicate.json["error"] == "passkey_taken"
    page = client.get("/account").get_data(as_text=True)
    assert page.count("data-passkey-id=") == 3


def test_the_last_way_to_sign_in_cannot_be_removed_and_a_passkey_stands_in_for_the_password(local, client, app):
    phone = SoftAuthenticator(ORIGIN)
    sign_up(client, phone)
    with app.app_context():
        key = db.session.scalar(sa.select(Passkey))
    refused = client.post(f"/account/passkeys/{key.public_id}/remove", data={"csrf_token": client.csrf_token()},
                          follow_redirects=True)
    assert "only way to sign in to your account, so it stays" in refused.get_data(as_text=True)
    # A second passkey: adding it needs a fresh passkey re-authentication (there is no password).
    refused_add = post(client, "/api/passkeys/add/options", {"password": ""})
    assert refused_add.status_code == 422 and refused_add.json["error"] == "reauth_needed"
    options = post(client, "/api/passkeys/reauth/options").json
    assert [c["id"] for c in options["allowCredentials"]] == [key.credential_id]
    assert post(client, "/api/passkeys/reauth", {"credential": phone.get(options)}).status_code == 204
    add_passkey(client, SoftAuthenticator(ORIGIN))
    removed = client.post(f"/account/passkeys/{key.public_id}/remove", data={"csrf_token": client.csrf_token()},
                          follow_redirects=True)
    assert "removed" in removed.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Passkey)) == 1


def test_a_re_authentication_lasts_five_minutes_and_only_for_its_own_sign_in(local, client, app, clock):
    phone = SoftAuthenticator(ORIGIN)
    sign_up(client, phone)
    options = post(client, "/api/passkeys/reauth/options").json
    post(client, "/api/passkeys/reauth", {"credential": phone.get(options)})
    clock.shift(timedelta(minutes=6))
    late = post(client, "/api/passkeys/add/options", {"password": ""})
    assert late.status_code == 422 and late.json["error"] == "reauth_needed"


def test_challenges_expire_after_five_minutes(local, client, app, clock):
    phone = SoftAuthenticator(ORIGIN)
    sign_up(client, phone)
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    options = post(client, "/api/passkeys/login/options").json
    clock.shift(timedelta(minutes=6))
    late = post(client, "/api/passkeys/login", {"credential": phone.get(options)})
    assert late.status_code == 400 and late.json["error"] == "passkey_expired"


def test_a_passkey_account_confirms_its_address_only_signed_in_with_its_passkey(local, client, app):
    phone = SoftAuthenticator(ORIGIN)
    sign_up(client, phone)  # someone signs up with pia's address, and is signed in, as with a password
    pia = user(app)
    with app.app_context():
        link = "/email/confirm/" + confirmation_token(db.session.get(User, pia.id), "pia@example.com")
    # Pia, who holds the inbox but not that passkey, cannot confirm it for them.
    inbox = app.test_client()
    page = inbox.get(link).get_data(as_text=True)
    assert "sign in with that passkey" in page and "Sign in with a passkey" in page
    assert inbox.post(link, data={"csrf_token": inbox.csrf_token()}).status_code == 403
    assert user(app).email_confirmed_at is None
    # The passkey's owner, signed in, confirms.
    assert client.post(link, data={"csrf_token": client.csrf_token()}).status_code == 200
    assert user(app).email_confirmed_at is not None


def test_a_password_reset_from_the_inbox_removes_passkeys_made_before_the_address_was_confirmed(local, client,
                                                                                                 app):
    intruder = SoftAuthenticator(ORIGIN)
    sign_up(client, intruder)  # made with pia's address, not by pia
    with app.app_context():
        token = reset_token(db.session.get(User, user(app).id))
    pia = app.test_client()
    pia.post(f"/password/reset/{token}", data={"csrf_token": pia.csrf_token(), "password": "pias own phrase here"})
    assert user(app).email_confirmed_at is not None
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Passkey)) == 0
    assert signed_in_as(client) is None  # the intruder's session ended with the reset
    answer, _ = sign_in(client, intruder)
    assert answer.status_code == 401


def test_deleting_an_account_removes_its_passkeys(local, client, app):
    phone = SoftAuthenticator(ORIGIN)
    sign_up(client, phone)
    options = post(client, "/api/passkeys/reauth/options").json
    post(client, "/api/passkeys/reauth", {"credential": phone.get(options)})
    gone = client.post("/account/delete", data={"csrf_token": client.csrf_token(), "delete-password": "",
                                                "delete-confirm": "DELETE"})
    assert gone.status_code == 302, gone.get_data(as_text=True)[:2000]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Passkey)) == 0
    answer, _ = sign_in(client, phone)
    assert answer.status_code == 401


@pytest.mark.parametrize("base_url, reason", [
    ("http://127.0.0.1:5000", "IP address (127.0.0.1)"),
    ("http://192.168.1.20:5000", "IP address (192.168.1.20)"),
    ("http://relbuild.lan:5000", "HTTPS"),
])
def test_passkeys_are_off_and_say_why_where_browsers_refuse_them(app, client, base_url, reason):
    app.config["BASE_URL"] = base_url
    try:
        for path in ("/login", "/register"):
            page = client.get(path).get_data(as_text=True)
            assert reason in page and 'data-passkey="' not in page
        refused = post(client, "/api/passkeys/login/options")
        assert refused.status_code == 409 and reason in refused.json["message"]
    finally:
        app.config["BASE_URL"] = "http://relbuild.test"


@pytest.mark.parametrize("base_url", ["http://localhost:5000", "https://relbuild.example", "http://app.localhost:8000"])
def test_passkeys_are_on_for_localhost_and_https(app, client, base_url):
    app.config["BASE_URL"] = base_url
    try:
        assert 'data-passkey="login"' in client.get("/login").get_data(as_text=True)
    finally:
        app.config["BASE_URL"] = "http://relbuild.test"


@pytest.mark.parametrize("body", [None, [], {"credential": "x"}, {"credential": {"response": {}}},
                                  {"credential": {"response": {"clientDataJSON": "!!"}}},
                                  {"credential": {"id": 5, "response": {"clientDataJSON": "e30"}}}])
def test_garbage_gets_a_json_error_not_a_500(local, client, body):
    for url in ("/api/passkeys/login", "/api/passkeys/signup"):
        answer = client.post(url, json=body, headers={"X-CSRFToken": client.csrf_token()})
        assert 400 <= answer.status_code < 500 and "error" in answer.json


@pytest.mark.parametrize("mangle", [
    lambda c: c["response"].update(attestationObject="AAAA"),
    lambda c: c["response"].update(attestationObject=7),
    lambda c: c["response"].update(clientDataJSON=c["response"]["clientDataJSON"][:-4]),
    lambda c: c.update(type="password"),
    lambda c: c.update(rawId=["x"]),
    lambda c: c["response"].pop("attestationObject"),
])
def test_a_mangled_registration_is_a_json_error_and_makes_no_account(local, client, app, mangle):
    options = post(client, "/api/passkeys/signup/options", {"name": "Max", "email": "max@example.com"}).json
    credential = SoftAuthenticator(ORIGIN).create(options)
    mangle(credential)
    answer = post(client, "/api/passkeys/signup", {"credential": credential})
    assert 400 <= answer.status_code < 500 and "error" in answer.json
    assert user(app, "max@example.com") is None


@pytest.mark.parametrize("mangle", [
    lambda c: c["response"].update(signature="AAAA"),
    lambda c: c["response"].update(authenticatorData=5),
    lambda c: c["response"].update(userHandle="bm90LW1pbmU"),  # another account's handle
    lambda c: c.update(rawId="x" * 2000),
    lambda c: c["response"].pop("signature"),
])
def test_a_mangled_assertion_is_a_json_error_and_signs_nobody_in(local, client, app, mangle):
    phone = SoftAuthenticator(ORIGIN)
    sign_up(client, phone)
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    options = post(client, "/api/passkeys/login/options").json
    credential = phone.get(options)
    mangle(credential)
    answer = post(client, "/api/passkeys/login", {"credential": credential})
    assert 400 <= answer.status_code < 500 and "error" in answer.json
    assert signed_in_as(client) is None


def test_a_passkey_only_account_changes_its_email_after_a_passkey(local, client, app):
    phone = SoftAuthenticator(ORIGIN)
    sign_up(client, phone)
    refused = client.post("/account/email", data={"csrf_token": client.csrf_token(), "email-email": "p@example.org"})
    assert refused.status_code == 422 and "Confirm it is you with your passkey first." in refused.get_data(as_text=True)
    options = post(client, "/api/passkeys/reauth/options").json
    post(client, "/api/passkeys/reauth", {"credential": phone.get(options)})
    done = client.post("/account/email", data={"csrf_token": client.csrf_token(), "email-email": "p@example.org"})
    assert done.status_code == 302 and user(app).pending_email == "p@example.org"


def test_passkey_endpoints_need_the_csrf_token(local, client):
    assert client.post("/api/passkeys/login/options", json={}).status_code == 400


def test_passkey_sign_in_has_the_login_pages_rate_limit(local, client):
    limiter.enabled = True
    try:
        statuses = [post(client, "/api/passkeys/login/options").status_code for _ in range(301)]
    finally:
        limiter.enabled = False
    assert statuses[:300] == [200] * 300 and statuses[300] == 429


def test_nobody_renames_or_removes_another_persons_passkey(local, client, app, make_user, login):
    owner, other = make_user(email="owner@example.com"), make_user(email="other@example.com")
    login(client, owner)
    add_passkey(client, SoftAuthenticator(ORIGIN), PASSWORD)
    with app.app_context():
        key = db.session.scalar(sa.select(Passkey))
    intruder = login(app.test_client(), other)
    for action, data in (("rename", {"name": "Mine now"}), ("remove", {"password": PASSWORD})):
        answer = intruder.post(f"/account/passkeys/{key.public_id}/{action}",
                               data={"csrf_token": intruder.csrf_token(), **data}, follow_redirects=True)
        assert "already removed" in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(Passkey.name)) == key.name


def test_passkey_pages_pass_the_nu_checker(local, client, app, make_user, login):
    from tests.perception import nu_errors

    documents = {path: client.get(path).get_data(as_text=True) for path in ("/login", "/register")}
    phone = SoftAuthenticator(ORIGIN)
    sign_up(client, phone)
    pia = user(app)
    with app.app_context():
        link = "/email/confirm/" + confirmation_token(db.session.get(User, pia.id), pia.email)
    documents["confirm (needs the passkey)"] = app.test_client().get(link).get_data(as_text=True)
    documents["account, one passkey, no password"] = client.get("/account").get_data(as_text=True)
    documents["badge, no password"] = client.get("/badge").get_data(as_text=True)
    documents["badge, refused without a passkey"] = client.post(
        "/badge/replace", data={"csrf_token": client.csrf_token()}).get_data(as_text=True)
    options = post(client, "/api/passkeys/reauth/options").json
    post(client, "/api/passkeys/reauth", {"credential": phone.get(options)})
    add_passkey(client, SoftAuthenticator(ORIGIN))
    documents["account, two passkeys, no password"] = client.get("/account").get_data(as_text=True)
    dev = login(app.test_client(), make_user(email="dev@example.com"))
    add_passkey(dev, SoftAuthenticator(ORIGIN), PASSWORD)
    documents["account, a password and a passkey"] = dev.get("/account").get_data(as_text=True)
    assert all('data-passkey="' in html for name, html in documents.items() if "login" in name or "account" in name)
    assert nu_errors(documents) == []


json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50) \
    | st.sampled_from(["", "AAAA", "e30", "x" * 5000, "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")])
json_any = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=8)
FIELDS = ["id", "rawId", "type", "response.clientDataJSON", "response.attestationObject", "response.authenticatorData",
          "response.signature", "response.userHandle", "response.transports", "response"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_changes_to_real_answers_are_json_errors_never_a_500(local, app, data):
    """Real registration and assertion answers with random fields replaced: a JSON 4xx, nobody signed in or made."""
    client = app.test_client()
    phone = SoftAuthenticator(ORIGIN)
    email = f"h{uuid.uuid4().hex[:12]}@example.com"
    registering = data.draw(st.booleans(), label="registering")
    if registering:
        options = post(client, "/api/passkeys/signup/options", {"name": "Hypo", "email": email}).json
        credential, url = phone.create(options), "/api/passkeys/signup"
    else:
        sign_up(client, phone, email=email)
        client.post("/logout", data={"csrf_token": client.csrf_token()})
        credential, url = phone.get(post(client, "/api/passkeys/login/options").json), "/api/passkeys/login"
    paths = data.draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True), label="fields")
    for path in sorted(paths, key=lambda p: p == "response"):  # the whole response, if at all, last
        parent, _, name = path.rpartition(".")
        (credential[parent] if parent else credential)[name] = data.draw(json_any, label=path)
    answer = client.post(url, json={"credential": credential}, headers={"X-CSRFToken": client.csrf_token()})
    assert answer.status_code < 500 and answer.is_json
    if answer.status_code >= 400:
        assert answer.json["error"] and answer.json["message"]
        assert signed_in_as(client) is None
        if registering:
            assert user(app, email) is None


def test_my_data_export_lists_my_passkeys_by_name_and_date(local, client, app):
    import io
    import json
    import zipfile

    sign_up(client, SoftAuthenticator(ORIGIN))
    archive = zipfile.ZipFile(io.BytesIO(client.get("/account/export.zip").data))
    [passkey] = json.loads(archive.read("profile.json"))["passkeys"]
    assert set(passkey) == {"name", "created_at", "last_used_at"} and passkey["created_at"].endswith("Z")


def test_the_phone_certificate_covers_a_named_base_url(tmp_path, monkeypatch):
    """`make run HTTPS=1 BASE_URL=https://<name>:5000`: the self-signed certificate names that host too."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from cryptography import x509

    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    script = Path(__file__).resolve().parents[1] / "scripts" / "phone.py"
    env = {"PATH": "/usr/bin:/bin", "BASE_URL": "https://relbuild-laptop.local:5000"}
    subprocess.run([sys.executable, str(script), "cert", str(tmp_path)], check=True, env=env)
    cert = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "relbuild-laptop.local" in names.get_values_for_type(x509.DNSName)
    assert "localhost" in names.get_values_for_type(x509.DNSName)


def test_a_passkey_only_account_replaces_its_badge_only_after_a_passkey(local, client, app):
    phone = SoftAuthenticator(ORIGIN)
    sign_up(client, phone)
    page = client.get("/badge").get_data(as_text=True)
    assert 'data-passkey="reauth-submit"' in page and 'name="password"' not in page
    refused = client.post("/badge/replace", data={"csrf_token": client.csrf_token()})
    assert refused.status_code == 422 and "Confirm it is you with your passkey first." in refused.get_data(as_text=True)
    options = post(client, "/api/passkeys/reauth/options").json
    post(client, "/api/passkeys/reauth", {"credential": phone.get(options)})
    assert client.post("/badge/replace", data={"csrf_token": client.csrf_token()}).status_code == 302
