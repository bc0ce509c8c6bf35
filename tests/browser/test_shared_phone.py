"""One phone, several people (issue 13, finding 5): queued notes belong to the account that wrote them."""
import time

from playwright.sync_api import expect

from relbuild.extensions import db
from relbuild.models import User
from relbuild.services.accounts import end_sessions

from tests.browser.conftest import shot
from tests.browser.test_pwa import BODY, notes_by, sign_in

NOTE_LABEL = "What did you talk about? What stood out?"


def queue_a_note(page, context, base, person):
    """Write a note that cannot reach the server (its API is unreachable): it waits on the phone."""
    context.route("**/api/notes/*", lambda route: route.abort("connectionrefused"))
    page.goto(f"{base}/c/{person.token}")
    page.get_by_label(NOTE_LABEL).fill(BODY)
    page.get_by_role("button", name="Save note").click()
    expect(page.locator(".form-message")).to_contain_text("Saved on this phone")


def on_phone(page) -> int:
    return page.evaluate("RelbuildOutbox.counts().then(c => c.items.length)")


def test_logging_out_with_unsynced_notes_warns_offers_to_stay_then_leaves_nothing(app, live_server, phone, make_user):
    me, person = make_user(name="Ada Author"), make_user(name="Pat Person")
    context = phone()
    page = context.new_page()
    sign_in(page, live_server, me)
    queue_a_note(page, context, live_server, person)

    page.goto(f"{live_server}/profile")
    page.get_by_role("button", name="Log out").click()
    warning = page.get_by_role("alert")
    expect(warning).to_contain_text("Not synced yet: 1 note written on this phone")
    expect(page.get_by_role("button", name="Stay logged in")).to_be_focused()
    shot(page, "sign-out-with-unsynced-notes")
    page.get_by_role("button", name="Stay logged in").click()
    expect(warning).to_be_hidden()
    page.reload()
    assert page.locator("body.signed-in").count() == 1 and on_phone(page) == 1

    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Log out and delete them").click()
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    assert on_phone(page) == 0
    assert page.evaluate("t => RelbuildOutbox.person(t)", person.token) is None  # the names seen are gone too
    assert notes_by(app, me) == []


def test_another_account_never_sends_or_sees_the_notes_queued_by_the_first(app, live_server, phone, make_user):
    ada, cy, person = make_user(name="Ada Author"), make_user(name="Cy Second"), make_user(name="Pat Person")
    context = phone()
    page = context.new_page()
    sign_in(page, live_server, ada)
    queue_a_note(page, context, live_server, person)
    ada_key = page.evaluate("document.body.dataset.account")
    token = page.evaluate("RelbuildOutbox && fetch('/api/csrf').then(r => r.json()).then(j => j.token)")
    with app.app_context():  # Ada's sign-in ends without her logging out (it expired, or she ended it elsewhere)
        end_sessions(db.session.get(User, ada.id))
        db.session.commit()
    context.unroute("**/api/notes/*")
    # A send already under way when the sign-in ended gets 401: the note keeps waiting, it needs nobody to fix it.
    context.route("**/api/csrf", lambda route: route.fulfill(
        json={"token": token, "signed_in": True, "account": ada_key}))
    assert page.evaluate("RelbuildOutbox.flush({force: true}).then(r => r.map(x => !!x.signedOut))") == [True]
    assert page.evaluate("RelbuildOutbox.counts().then(c => c.items.map(i => i.state))") == ["pending"]
    context.unroute("**/api/csrf")

    sign_in(page, live_server, cy)
    assert page.evaluate("RelbuildOutbox.flush({force: true})") == []
    expect(page.locator("[data-sync-status]")).to_be_hidden()  # quiet: Cy has nothing waiting
    page.goto(f"{live_server}/offline#waiting")
    expect(page.locator("[data-outbox-list]")).to_be_hidden()
    assert notes_by(app, cy) == [] and notes_by(app, ada) == [] and on_phone(page) == 1

    page.goto(f"{live_server}/profile")
    page.get_by_role("button", name="Log out").click()  # nothing of Cy's waits: no warning
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    sign_in(page, live_server, ada)
    for _ in range(60):  # Ada is back: her note goes out under her name
        if notes_by(app, ada):
            break
        time.sleep(0.5)
    assert [n.body for n in notes_by(app, ada)] == [BODY] and notes_by(app, cy) == []
    expect(page.locator("[data-sync-status]")).to_be_hidden()
