"""The authorization matrix: every route, as a stranger, as the owner and as another user.

Each route in `app.url_map` needs an entry in EXPECTED, so a new route cannot ship without a
decision about who may use it. Roles:
- anon: not signed in;
- owner: the person the object belongs to (their badge, prompt, note, feed) and the organizer of the event;
- attendee: signed in and joined the event, not an organizer (for other routes, the same as `other`);
- other: signed in, with no relation to the object.
URLs name the owner's objects. POSTs carry a valid CSRF token and no other fields, so a
permitted form answers 422 (refused input) or acts; a forbidden one answers 302 to login, 403 or 404.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from relbuild.extensions import db
from relbuild.models import AttendeeImport, Invitation, LoginSession, Prompt, User
from relbuild.services.accounts import reset_token, start_session
from relbuild.services.events import create_event, join_event
from relbuild.services.invitations import invitation_token
from relbuild.services.verification import confirmation_token
from relbuild.services.links import action_token, unsubscribe_token
from relbuild.services.notes import save_note

WRITE_ID = str(uuid.uuid4())
LOGIN = 302  # anonymous visitors are sent to the login page

# "METHOD endpoint": (anon, owner, attendee, other)
EXPECTED: dict[str, tuple[int, int, int, int]] = {
    # public pages and the PWA shell
    "GET pages.home": (200, 302, 302, 302),
    "GET pages.healthz": (200, 200, 200, 200),
    "GET pwa.manifest": (200, 200, 200, 200),
    "GET pwa.offline": (200, 200, 200, 200),
    "GET pwa.service_worker": (200, 200, 200, 200),
    "GET static": (200, 200, 200, 200),
    "GET api.csrf_token": (200, 200, 200, 200),
    # languages: the scripts' catalog, and the signed-out visitor's switch (a cookie, then back)
    "GET i18n.js_catalog": (200, 200, 200, 200),
    "POST i18n.choose": (303, 303, 303, 303),
    # signing in and out
    "GET auth.register": (200, 302, 302, 302),
    "POST auth.register": (422, 302, 302, 302),
    "GET auth.login": (200, 302, 302, 302),
    "POST auth.login": (422, 302, 302, 302),
    "POST auth.logout": (LOGIN, 302, 302, 302),
    # passkeys (JSON; here BASE_URL is http://relbuild.test, where browsers allow none: 409 says why,
    # and a form post instead of JSON is 400)
    "POST passkeys.signup_options": (400, 400, 400, 400),
    "POST passkeys.signup": (400, 400, 400, 400),
    "POST passkeys.login_options": (409, 409, 409, 409),
    "POST passkeys.login": (400, 400, 400, 400),
    "POST passkeys.reauth_options": (401, 409, 409, 409),
    "POST passkeys.reauth": (401, 400, 400, 400),
    "POST passkeys.add_options": (401, 400, 400, 400),
    "POST passkeys.add": (401, 400, 400, 400),
    "POST passkeys.rename": (LOGIN, 302, 302, 302),  # only ever one of my own passkeys
    "POST passkeys.remove": (LOGIN, 302, 302, 302),
    "GET auth.forgot_password": (200, 200, 200, 200),
    "POST auth.forgot_password": (422, 422, 422, 422),
    # capability links: whoever holds the signed token may use it, signed in or not
    "GET auth.reset_password": (200, 200, 200, 200),
    "POST auth.reset_password": (422, 422, 422, 422),
    "GET verification.confirm": (200, 200, 200, 200),
    "POST verification.confirm": (200, 200, 200, 200),
    "GET invitations.show": (200, 200, 200, 200),
    # an invitation to an address with no account: accepting makes one (fields missing: 422), or joins
    # whoever is signed in (then it is answered, and shown again)
    "POST invitations.accept_from_email": (422, 302, 302, 302),
    "POST invitations.decline_from_email": (200, 200, 200, 200),
    "GET followups.email_action": (200, 200, 200, 200),
    "POST followups.email_action": (200, 200, 200, 200),
    "GET followups.unsubscribe": (200, 200, 200, 200),
    "POST followups.unsubscribe": (200, 200, 200, 200),
    "GET account.calendar_feed": (200, 200, 200, 200),
    # my own things: the URL names no object, so everyone signed in gets their own
    "GET profile.edit": (LOGIN, 200, 200, 200),
    "GET pages.more": (LOGIN, 200, 200, 200),
    "POST profile.edit": (LOGIN, 302, 302, 302),  # missing fields keep their saved values
    "GET account.index": (LOGIN, 200, 200, 200),
    "POST account.email": (LOGIN, 422, 422, 422),
    "POST account.password": (LOGIN, 422, 422, 422),
    "POST account.delete": (LOGIN, 422, 422, 422),
    "GET account.export": (LOGIN, 200, 200, 200),
    "POST account.calendar_on": (LOGIN, 302, 302, 302),
    "POST account.calendar_off": (LOGIN, 302, 302, 302),
    "POST account.end_other_sessions": (LOGIN, 302, 302, 302),
    "POST account.end_one_session": (LOGIN, 302, 302, 302),  # only ever one of my own sessions
    "POST verification.resend": (LOGIN, 302, 302, 302),
    "POST verification.cancel_change": (LOGIN, 302, 302, 302),
    # an invitation to my confirmed address, answered in the app
    "POST invitations.answer_in_app": (LOGIN, 302, 404, 404),
    "GET badges.mine": (LOGIN, 200, 200, 200),
    "GET badges.qr_as_svg": (LOGIN, 200, 200, 200),
    "GET badges.qr_as_png": (LOGIN, 200, 200, 200),
    "POST badges.replace": (LOGIN, 422, 422, 422),
    "GET people.index": (LOGIN, 200, 200, 200),
    "GET followups.index": (LOGIN, 200, 200, 200),
    "POST followups.index": (LOGIN, 302, 302, 302),
    "GET scan.page": (200, 200, 200, 200),
    "POST scan.photo": (422, 422, 422, 422),  # anyone may scan a badge photo
    "GET badges.connect": (200, 200, 200, 200),
    "POST badges.connect": (422, 422, 422, 422),
    # a badge link is public: anyone sees the profile, signed-in visitors write their own note
    "GET badges.person": (200, 200, 200, 200),
    "POST badges.person": (LOGIN, 200, 422, 422),
    # a person page exists only for people connected by a note
    "GET people.person": (LOGIN, 200, 404, 404),
    "POST people.person": (LOGIN, 302, 404, 404),  # a missing body keeps the saved note
    "POST people.followed_up": (LOGIN, 302, 404, 404),
    # a prompt is its owner's alone
    "POST followups.act": (LOGIN, 302, 404, 404),
    # the offline API: another author's write id never touches the owner's note
    "PUT api.put_note": (401, 200, 409, 409),
    # Web Push: each signed-in person manages their own device's subscription (no fields: refused)
    "GET api.push_public_key": (401, 200, 200, 200),
    "POST api.push_subscribe": (401, 422, 422, 422),
    "DELETE api.push_unsubscribe": (401, 422, 422, 422),
    # events: organizers manage, attendees see the event, others see nothing
    "GET events.index": (LOGIN, 200, 200, 200),
    "GET events.new": (LOGIN, 200, 200, 200),
    "POST events.new": (LOGIN, 422, 422, 422),
    "POST events.join_by_code": (LOGIN, 422, 422, 422),
    "GET events.join": (200, 302, 302, 200),  # organizers and attendees go to the event
    "POST events.join": (LOGIN, 302, 302, 302),
    "GET events.show": (LOGIN, 200, 200, 404),
    "GET events.edit": (LOGIN, 200, 403, 404),
    "POST events.edit": (LOGIN, 422, 403, 404),
    "POST events.add_co_organizer": (LOGIN, 302, 403, 404),  # back to the event, with the error
    "GET events.attendees": (LOGIN, 200, 403, 404),
    "GET events.attendees_csv": (LOGIN, 200, 403, 404),
    "GET events.poster_pdf": (LOGIN, 200, 403, 404),
    "GET events.badges_pdf": (LOGIN, 200, 403, 404),
    "GET events.dashboard": (LOGIN, 200, 403, 404),
    "GET events.import_upload": (LOGIN, 200, 403, 404),
    "POST events.import_upload": (LOGIN, 422, 403, 404),
    "GET events.import_preview": (LOGIN, 200, 403, 404),
    "POST events.import_confirm": (LOGIN, 303, 403, 404),
}
ROLES = ("anon", "owner", "attendee", "other")


@pytest.fixture
def world(app, make_user):
    """The owner's objects: a note with a write id, prompts, an event with an import, a calendar feed."""
    owner, attendee, other = make_user(name="Owner"), make_user(name="Attendee"), make_user(name="Other")
    subject = make_user(name="Subject")
    with app.app_context():
        me = db.session.get(User, owner.id)
        save_note(me, db.session.get(User, subject.id), "Subject mends violins and wants a bigger workshop.",
                  met_at=datetime.utcnow() - timedelta(hours=1), write_id=WRITE_ID)
        now = datetime.utcnow()
        event = create_event(me, name="Spring Fair", venue="Hall", timezone="UTC",
                             starts_at=f"{now - timedelta(hours=1):%Y-%m-%dT%H:%M}",
                             ends_at=f"{now + timedelta(hours=3):%Y-%m-%dT%H:%M}")
        join_event(db.session.get(User, attendee.id), event)
        upload = AttendeeImport(event_id=event.id, uploaded_by=owner.id, rows=[])
        invitations = [Invitation(event_id=event.id, email=email, invited_by=owner.id)
                       for email in ("ivy@example.com", "ian@example.com", owner.email)]
        db.session.add_all([upload, *invitations])
        db.session.commit()
        ids = {"event_id": event.id, "code": event.join_code, "import_id": upload.id,
               "invitations": [i.id for i in invitations],
               "prompt_id": db.session.scalar(sa.select(Prompt.id).where(Prompt.user_id == owner.id).limit(1)),
               "session": start_session(me).session_id}
    return {"owner": owner, "attendee": attendee, "other": other, "subject": subject, **ids}


def url_arguments(app, world, endpoint: str) -> dict:
    """Values for a route's URL parts, naming the owner's objects (read fresh: earlier requests change them)."""
    owner = db.session.get(User, world["owner"].id)
    if owner.calendar_token is None:  # turned off by an earlier request
        owner.calendar_token = "feed-" + uuid.uuid4().hex
        db.session.commit()
    accept, decline, mine = (db.session.get(Invitation, i) for i in world["invitations"])
    tokens = {
        "badges.person": world["owner"].token,
        "verification.confirm": confirmation_token(owner, owner.email),
        "invitations.show": invitation_token(accept),
        "invitations.accept_from_email": invitation_token(accept),
        "invitations.decline_from_email": invitation_token(decline),
        "auth.reset_password": reset_token(owner),
        "followups.email_action": action_token(world["prompt_id"], "snooze"),
        "followups.unsubscribe": unsubscribe_token(owner.public_id),
        "account.calendar_feed": owner.calendar_token,
    }
    session = db.session.get(LoginSession, world["session"])
    ended = "0" * 32  # the owner signed it out in an earlier request
    public_id = (session.public_id if session else ended) if endpoint == "account.end_one_session" \
        else world["subject"].public_id
    return {"token": tokens.get(endpoint), "public_id": public_id, "prompt_id": world["prompt_id"],
            "action": "done", "event_id": world["event_id"], "import_id": world["import_id"],
            "code": world["code"], "note_id": WRITE_ID, "filename": "css/app.css", "invitation_id": mine.id,
            "answer": "accept", "language": "fr"}


def client_as(app, world, role: str):
    client = app.test_client()
    if role != "anon":
        with app.app_context():
            signed_in = start_session(db.session.get(User, world[role].id))
        with client.session_transaction() as session:
            session["_user_id"] = signed_in.session_id
    return client


def request_as(app, world, role: str, method: str, rule) -> int:
    client = client_as(app, world, role)
    with app.app_context(), app.test_request_context(base_url=app.config["BASE_URL"]):
        arguments = url_arguments(app, world, rule.endpoint)
        url = app.url_map.bind("relbuild.test").build(rule.endpoint, {a: arguments[a] for a in rule.arguments})
    if method == "GET":
        return client.get(url).status_code
    token = client.csrf_token()
    if method == "PUT":
        return client.put(url, json={"badge": world["subject"].token, "body": "Mends violins; wants a workshop."},
                          headers={"X-CSRFToken": token}).status_code
    return client.open(url, method=method, data={"csrf_token": token}).status_code


RUN_LAST = {"POST events.join"}  # it makes `other` an attendee


def routes(app):
    pairs = [(method, rule) for rule in app.url_map.iter_rules()
             for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return sorted(pairs, key=lambda pair: f"{pair[0]} {pair[1].endpoint}" in RUN_LAST)


def test_every_route_has_an_authorization_entry(app):
    known = {f"{method} {rule.endpoint}" for method, rule in routes(app)}
    assert known - EXPECTED.keys() == set(), "new routes need an entry in EXPECTED"
    assert EXPECTED.keys() - known == set(), "entries for routes that no longer exist"


def test_authorization_matrix(app, world):
    wrong = []
    for method, rule in routes(app):
        expected = dict(zip(ROLES, EXPECTED[f"{method} {rule.endpoint}"]))
        for role in ROLES:
            got = request_as(app, world, role, method, rule)
            if got != expected[role]:
                wrong.append(f"{method} {rule.rule} as {role}: expected {expected[role]}, got {got}")
    assert wrong == [], "\n".join(wrong)
