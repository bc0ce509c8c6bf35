"""Follow-ups as notifications in real Chromium: turning them on from /followups, and the service worker's
`push` and `notificationclick` handlers fed through DevTools (ServiceWorker.deliverPushMessage).

Headless Chromium here reaches no browser push service (FCM), so the page's PushManager.subscribe is
replaced by one returning the test's subscription; everything after it — the permission asked on
the tap, the POST to /api/push/subscriptions, the worker's payload, showing it, the snooze — is real.
"""
import json
import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from relbuild.extensions import db
from relbuild.models import Prompt, PushSubscription, User
from relbuild.services.notes import save_note
from relbuild.services.push import payload
from tests.browser.conftest import shot
from tests.browser.test_pwa import sign_in

ENDPOINT = "https://fcm.googleapis.com/fcm/send/test-device"
FAKE_PUSH_SERVICE = """
(() => {
  const sub = {
    endpoint: %s,
    expirationTime: null,
    toJSON() { return { endpoint: this.endpoint, expirationTime: null, keys: %s }; },
    unsubscribe() { sessionStorage.removeItem("pushSubscribed"); return Promise.resolve(true); },
  };
  window.__pushSubscribeCalls = 0;
  PushManager.prototype.subscribe = function (options) {
    window.__pushSubscribeCalls += 1;
    window.__pushKeyLength = options.applicationServerKey.byteLength;
    sessionStorage.setItem("pushSubscribed", "1");
    return Promise.resolve(sub);
  };
  PushManager.prototype.getSubscription = function () {
    return Promise.resolve(sessionStorage.getItem("pushSubscribed") ? sub : null);
  };
})();
"""


def browser_keys() -> dict:
    from tests.test_push import Device

    return Device(ENDPOINT).json["keys"]


def test_notifications_are_turned_on_by_a_tap_and_off_again(app, live_server, phone, make_user):
    me = make_user(name="Ann Author")
    context = phone(permissions=["notifications"])
    context.add_init_script(FAKE_PUSH_SERVICE % (json.dumps(ENDPOINT), json.dumps(browser_keys())))
    page = context.new_page()
    sign_in(page, live_server, me)
    page.goto(live_server + "/followups")
    section = page.get_by_role("region", name="Notifications on this phone")
    expect(section.get_by_role("status")).to_have_text("Notifications are off for this phone.")
    turn_on = section.get_by_role("button", name="Turn on notifications")
    expect(turn_on).to_be_visible()
    box = turn_on.bounding_box()
    assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 412
    assert page.evaluate("window.__pushSubscribeCalls") == 0  # nothing asked on page load

    turn_on.click()
    expect(section.get_by_role("status")).to_have_text(re.compile("Notifications are on for this phone"))
    assert page.evaluate("window.__pushKeyLength") == 65  # the VAPID public key, decoded
    with app.app_context():
        [kept] = db.session.scalars(sa.select(PushSubscription)).all()
        assert kept.user_id == me.id and kept.endpoint == ENDPOINT
    shot(page, "push-on")
    page.reload()
    turn_off = page.get_by_role("button", name="Turn off notifications")
    expect(turn_off).to_be_visible()
    turn_off.click()
    expect(page.get_by_role("status").filter(has_text="Notifications are off")).to_be_visible()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PushSubscription)) == 0
    assert phone.problems == []


def registration_id(cdp) -> str:
    found = {}
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda event: found.update({r["scopeURL"]: r["registrationId"] for r in event["registrations"]}))
    cdp.send("ServiceWorker.enable")
    for _ in range(50):
        if found:
            return next(iter(found.values()))
        cdp.send("Runtime.evaluate", {"expression": "1"})  # let the events arrive
    raise AssertionError("no service worker registration reported")


def showing(page) -> list[dict]:
    """The notifications the service worker's registration shows, once there are any (up to 10 s)."""
    for _ in range(100):
        shown = page.evaluate("""async () => {
            const reg = await navigator.serviceWorker.ready;
            return (await reg.getNotifications()).map((n) => ({title: n.title, body: n.body, tag: n.tag,
                                                             actions: n.actions.map((a) => [a.action, a.title])}));
        }""")
        if shown:
            return shown
        page.wait_for_timeout(100)
    raise AssertionError("no notification shown")


def test_a_pushed_prompt_shows_and_its_snooze_works_without_opening_a_page(app, live_server, phone, make_user):
    ann, bea = make_user(name="Ann Author"), make_user(name="Bea Builder")
    with app.app_context():
        note, _ = save_note(db.session.get(User, ann.id), db.session.get(User, bea.id),
                            "Builds bike-sharing apps; wants riders for user tests.", "Send her the UX meetup link",
                            met_at=datetime.utcnow() - timedelta(hours=1))
        prompt = db.session.scalar(sa.select(Prompt).where(Prompt.note_id == note.id, Prompt.kind == "digest"))
        with app.test_request_context(base_url=live_server):
            data = payload(prompt)  # exactly what the worker encrypts and sends
        prompt_id = prompt.id

    context = phone(permissions=["notifications"])
    page = context.new_page()
    sign_in(page, live_server, ann)
    cdp = context.new_cdp_session(page)
    registration = registration_id(cdp)
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": live_server, "registrationId": registration,
                                                  "data": json.dumps(data)})
    shown = showing(page)
    assert len(shown) == 1
    assert shown[0]["title"] == "Bea Builder"
    assert shown[0]["body"].startswith("You offered: Send her the UX meetup link\nMet ")
    assert "bike-sharing" in shown[0]["body"]
    assert shown[0]["actions"] == [["write", "Write to them"], ["snooze", "Remind me in a week"]]

    # No headless way to tap the notification's button: the click event is dispatched inside the service
    # worker, with the notification it showed, and the handler's work is awaited.
    [worker] = context.service_workers
    click = """async (action) => {
        const [notification] = await self.registration.getNotifications();
        const event = new NotificationEvent("notificationclick", {notification, action});
        let work = Promise.resolve();
        event.waitUntil = (promise) => { work = promise; };
        self.dispatchEvent(event);
        await work;
        return (await self.registration.getNotifications()).map((n) => n.body);
    }"""
    # "Write to them": Bea does not share her email, so her page in the app opens (a mailto: draft when she does).
    # Only a real tap may open a window, so here openWindow is watched rather than called.
    opened = worker.evaluate("""async (click) => {
        const urls = [];
        const real = self.clients.openWindow;
        self.clients.openWindow = (url) => { urls.push(url); return Promise.resolve(null); };
        try {
            const left = await (eval("(" + click + ")"))("write");
            return {urls, left};
        } finally { self.clients.openWindow = real; }
    }""", click)
    assert opened == {"urls": [f"{live_server}/people/{bea.public_id}"], "left": []}  # and the notification closed

    cdp.send("ServiceWorker.deliverPushMessage", {"origin": live_server, "registrationId": registration,
                                                  "data": json.dumps(data)})
    assert len(showing(page)) == 1
    pages_before = len(context.pages)
    outcome = worker.evaluate(click, "snooze")
    assert outcome == ["We will remind you in a week."]
    assert len(context.pages) == pages_before  # no page opened for it
    with app.app_context():
        snoozed = db.session.get(Prompt, prompt_id)
        assert snoozed.action == "snoozed"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Prompt).where(
            Prompt.note_id == note.id, Prompt.kind == "reminder")) == 1
    assert phone.problems == []
