"""Passkeys in real Chromium with the DevTools virtual authenticator (a phone's platform authenticator).

Browsers refuse an IP address as the relying-party id, so these pages are served as
http://localhost:<port> (a secure context, like https).
"""
from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from relbuild.extensions import db
from relbuild.models import Passkey, User
from relbuild.services.accounts import PASSKEY_ONLY
from tests.browser.conftest import shot
from tests.conftest import PASSWORD as PASSWORD_OF_MAKE_USER
from tests.browser.test_core_loop import register

PASSWORD = "quiet river morning"


@pytest.fixture
def localhost_server(app):
    """The app over real HTTP at http://localhost:<port>: BASE_URL (hence the RP ID) is localhost."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://localhost:{server.server_port}"
    old_base = app.config["BASE_URL"]
    app.config["BASE_URL"] = url
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    thread.join(5)
    app.config["BASE_URL"] = old_base


def with_authenticator(context, page):
    """A platform authenticator (the phone's screen lock) that holds discoverable passkeys and verifies the user."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    found = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    return cdp, found["authenticatorId"]


def credentials(cdp, authenticator_id) -> list[dict]:
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]


def send_due(runner) -> str:
    result = runner.invoke(args=["followups", "send-due"])
    assert result.exit_code == 0, result.output
    return result.output


def confirmation_link(mailbox, address: str, base: str) -> str:
    message = mailbox.to(address)[-1]
    return re.search(rf"{re.escape(base)}/email/confirm/\S+", message.get_body(("plain",)).get_content()).group(0)


def log_out(page, base):
    page.goto(f"{base}/profile")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/$"))


def test_sign_up_with_a_passkey_confirm_it_sign_out_and_sign_in_with_it(app, localhost_server, phone, runner,
                                                                         mailbox):
    base = localhost_server
    context = phone()
    page = context.new_page()
    cdp, authenticator = with_authenticator(context, page)

    page.goto(f"{base}/register")
    page.get_by_label("Email").fill("pia@example.com")
    page.get_by_role("button", name="Sign up with a passkey").click()
    page.get_by_role("alert").get_by_text("Tell people your name.").wait_for()  # asked before any passkey is made
    assert credentials(cdp, authenticator) == []
    phone.problems.clear()  # that refusal was a 422 on purpose
    page.get_by_label("Your name").fill("Pia Passkey")
    page.get_by_label("Email").fill("pia@example.com")
    page.get_by_role("button", name="Sign up with a passkey").click()
    page.wait_for_url(re.compile(r"/profile"))
    assert "We sent an email to pia@example.com" in page.locator(".flashes").inner_text()
    [made] = credentials(cdp, authenticator)
    assert made["isResidentCredential"] and made["rpId"] == "localhost"
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "pia@example.com"))
        assert user.password_hash == PASSKEY_ONLY and user.email_confirmed_at is None
        [passkey] = db.session.scalars(sa.select(Passkey).where(Passkey.user_id == user.id)).all()
        assert passkey.name == "Chrome on Android"

    # The confirmation email goes to the address; someone else opening the link (no passkey) cannot confirm.
    send_due(runner)
    link = confirmation_link(mailbox, "pia@example.com", base)
    stranger = phone().new_page()
    stranger.goto(link)
    assert "sign in with that passkey" in stranger.locator("main").inner_text()
    assert stranger.get_by_role("button", name=re.compile("^Confirm")).count() == 0

    page.goto(link)
    page.get_by_role("button", name="Confirm pia@example.com").click()
    page.get_by_text("confirmed", exact=False).first.wait_for()
    with app.app_context():
        assert db.session.scalar(sa.select(User.email_confirmed_at).where(User.email == "pia@example.com"))

    log_out(page, base)
    page.goto(f"{base}/login")
    button = page.get_by_role("button", name="Sign in with a passkey")
    box = button.bounding_box()
    assert box and box["y"] + box["height"] <= 640, "the passkey button is on the first screen"
    shot(page, "passkey-login")
    button.click()
    page.wait_for_url(re.compile(r"/people"))
    assert credentials(cdp, authenticator)[0]["signCount"] >= 2  # signed up, then signed in

    page.goto(f"{base}/account")
    item = page.locator("[data-passkey-id]")
    assert item.count() == 1
    assert "last used" in item.inner_text()
    item.locator("summary").click()
    assert "only way to sign in" in item.inner_text()
    assert item.get_by_role("button", name=re.compile("^Remove")).count() == 0
    shot(page, "passkey-account")
    devices = page.locator(".sessions li").all_inner_texts()
    assert any("Chrome on Android" in d for d in devices)
    assert phone.problems == []  # no CSP violation, script error or failed request on the way


def test_a_second_devices_passkey_and_removing_one(app, localhost_server, phone, make_user):
    base = localhost_server
    first_context, second_context = phone(), phone()
    first, second = first_context.new_page(), second_context.new_page()
    cdp1, auth1 = with_authenticator(first_context, first)
    cdp2, auth2 = with_authenticator(second_context, second)

    register(first, base, "Dev Twoface", "dev@example.com", PASSWORD)
    for page in (first, second):
        if page is second:
            page.goto(f"{base}/login")
            page.get_by_label("Email").fill("dev@example.com")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in", exact=True).click()
            page.wait_for_url(re.compile(r"/people"))
        page.goto(f"{base}/account")
        page.get_by_label("Password (to add a passkey)").fill(PASSWORD)
        page.get_by_role("button", name="Add a passkey").click()
        page.wait_for_url(re.compile(r"/account"))
        page.get_by_text("Passkey added").wait_for()
    assert len(credentials(cdp1, auth1)) == len(credentials(cdp2, auth2)) == 1
    first.reload()
    assert first.locator("[data-passkey-id]").count() == 2

    # Adding asks for the password again: a wrong one adds nothing.
    first.get_by_label("Password (to add a passkey)").fill("not my password")
    first.get_by_role("button", name="Add a passkey").click()
    first.get_by_text("That is not your current password.").wait_for()
    assert len(credentials(cdp1, auth1)) == 1

    # Both devices sign in with their own passkey.
    for page in (first, second):
        log_out(page, base)
        page.goto(f"{base}/login")
        page.get_by_role("button", name="Sign in with a passkey").click()
        page.wait_for_url(re.compile(r"/people"))

    # The first phone renames and then removes the second phone's passkey (password again).
    first.goto(f"{base}/account")
    second_item = first.locator("[data-passkey-id]").nth(1)
    second_item.locator("summary").click()
    second_item.get_by_label("Name of this passkey").fill("Work phone")
    second_item.get_by_role("button", name="Rename").click()
    first.get_by_text("Passkey renamed “Work phone”.").wait_for()
    second_item = first.locator("[data-passkey-id]").nth(1)
    assert "Work phone" in second_item.inner_text()
    second_item.locator("summary").click()
    second_item.get_by_label("Password (to remove it)").fill(PASSWORD)
    second_item.get_by_role("button", name="Remove “Work phone”").click()
    first.get_by_text("Passkey “Work phone” removed").wait_for()
    assert first.locator("[data-passkey-id]").count() == 1

    # The removed passkey no longer signs in (it is still on the phone; the server refuses it).
    log_out(second, base)
    second.goto(f"{base}/login")
    second.get_by_role("button", name="Sign in with a passkey").click()
    second.get_by_text("not registered here").wait_for()
    assert "/login" in second.url
    shot(second, "passkey-removed-refused")


def test_passkeys_are_off_with_a_reason_when_the_server_is_an_ip_address(live_server, phone):
    page = phone().new_page()
    page.goto(f"{live_server}/login")
    assert "IP address (127.0.0.1)" in page.locator("[data-passkeys-off]").inner_text()
    assert page.get_by_role("button", name=re.compile("passkey")).count() == 0
    page.goto(f"{live_server}/register")
    assert "http://localhost:" in page.locator("[data-passkeys-off]").inner_text()


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""() => axe.run(document, {runOnly: {type: 'tag', values:
        ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})""")
    return [f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in result["violations"]]


def test_passkey_pages_have_no_axe_violations(localhost_server, phone):
    if not AXE.exists():
        pytest.fail(f"{AXE} missing: run `npm ci` (make test does)")
    base = localhost_server
    context = phone(bypass_csp=True)  # for the audit script only
    page = context.new_page()
    with_authenticator(context, page)
    problems = {}
    for path in ("/login", "/register"):
        page.goto(base + path)
        page.get_by_role("button", name=re.compile("passkey")).wait_for()
        problems[path] = axe_violations(page)
    page.get_by_label("Your name").fill("Ada Axe")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("button", name="Sign up with a passkey").click()
    page.wait_for_url(re.compile(r"/profile"))
    page.goto(f"{base}/account")
    page.locator("[data-passkey-id] summary").click()
    shot(page, "passkey-account-passkey-only")
    problems["/account"] = axe_violations(page)
    assert problems == {path: [] for path in problems}


def test_on_another_name_for_the_server_the_page_points_to_its_address(localhost_server, phone):
    """BASE_URL is http://localhost:<port>; the same server opened as 127.0.0.1 says where passkeys work."""
    page = phone().new_page()
    numeric = localhost_server.replace("localhost", "127.0.0.1")
    page.goto(f"{numeric}/login?next=/people")
    home = page.get_by_role("link", name=localhost_server)
    home.wait_for()
    assert home.get_attribute("href") == f"{localhost_server}/login?next=/people"
    assert page.get_by_role("button", name=re.compile("passkey")).count() == 0
    assert page.get_by_role("button", name="Log in", exact=True).is_visible()  # the password path stays


def test_a_browser_without_passkeys_gets_the_password_path(localhost_server, phone, make_user):
    context = phone()
    context.add_init_script("delete window.PublicKeyCredential")
    page = context.new_page()
    page.goto(f"{localhost_server}/register")
    assert page.get_by_role("button", name=re.compile("passkey")).count() == 0
    assert page.get_by_label("Password").is_visible()
    page.goto(f"{localhost_server}/login")
    assert page.get_by_text("This browser cannot use passkeys").is_visible()
    user = make_user(email="plain@example.com")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD_OF_MAKE_USER)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(re.compile(r"/people"))


def test_a_passkey_only_account_adds_and_removes_passkeys_with_its_passkey(app, localhost_server, phone):
    base = localhost_server
    context = phone()
    page = context.new_page()
    cdp, first = with_authenticator(context, page)
    page.goto(f"{base}/register")
    page.get_by_label("Your name").fill("Olu Only")
    page.get_by_label("Email").fill("olu@example.com")
    page.get_by_role("button", name="Sign up with a passkey").click()
    page.wait_for_url(re.compile(r"/profile"))

    # A second authenticator (say, a security key) joins; the first one stops answering make-credential
    # requests after the re-authentication, so the new passkey is made by the second.
    found = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    second = found["authenticatorId"]
    page.goto(f"{base}/account")
    assert page.get_by_label("Password (to add a passkey)").count() == 0  # no password to give
    cdp.send("WebAuthn.setAutomaticPresenceSimulation", {"authenticatorId": second, "enabled": False})

    def after_reauth(route):
        cdp.send("WebAuthn.setAutomaticPresenceSimulation", {"authenticatorId": first, "enabled": False})
        cdp.send("WebAuthn.setAutomaticPresenceSimulation", {"authenticatorId": second, "enabled": True})
        route.continue_()

    page.route("**/api/passkeys/add/options", after_reauth)
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_text("Passkey added").wait_for()
    assert len(credentials(cdp, second)) == 1
    items = page.locator("[data-passkey-id]")
    assert items.count() == 2

    # Removing one asks for a passkey again (the first phone answers), then it is gone.
    cdp.send("WebAuthn.setAutomaticPresenceSimulation", {"authenticatorId": first, "enabled": True})
    cdp.send("WebAuthn.setAutomaticPresenceSimulation", {"authenticatorId": second, "enabled": False})
    items.nth(1).locator("summary").click()
    items.nth(1).get_by_role("button", name=re.compile(r"^Remove .*passkey")).click()
    page.get_by_text("removed: it no longer signs in").wait_for()
    assert page.locator("[data-passkey-id]").count() == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Passkey)) == 1


def test_a_passkey_only_account_replaces_its_badge_with_its_passkey(app, localhost_server, phone):
    base = localhost_server
    context = phone()
    page = context.new_page()
    with_authenticator(context, page)
    page.goto(f"{base}/register")
    page.get_by_label("Your name").fill("Bo Badge")
    page.get_by_label("Email").fill("bo@example.com")
    page.get_by_role("button", name="Sign up with a passkey").click()
    page.wait_for_url(re.compile(r"/profile"))
    page.goto(f"{base}/badge")
    old_code = page.locator("[data-short-code]").get_attribute("data-short-code")
    page.get_by_text("Replace my badge").first.click()  # the disclosure
    assert page.get_by_label("Your password").count() == 0
    page.get_by_role("button", name="Replace my badge (confirm with your passkey)").click()
    page.get_by_text("Your badge was replaced").wait_for()
    assert page.locator("[data-short-code]").get_attribute("data-short-code") != old_code
    assert phone.problems == []
