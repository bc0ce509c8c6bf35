"""People own their account: password and email changes, reset by email, export, calendar feed, deletion."""
import csv
import io
import json
import re
import zipfile
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from relbuild.extensions import db, limiter
from relbuild.models import Badge, LoginSession, Note, NoteWrite, Prompt, User
from relbuild.services import accounts
from relbuild.services.notes import save_note
from tests.conftest import PASSWORD

NEW_PASSWORD = "copper meadow whistle"
MY_NOTE = "Marker-7f3 builds tide-powered lamps; asked about grant writing."
THEIR_NOTE = "Secret-91c: their note about me that I must never see."


def signed_in(app, login, user):
    return login(app.test_client(), user)


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def send_due(runner) -> str:
    result = runner.invoke(args=["followups", "send-due"])
    assert result.exit_code == 0, result.output
    return result.output


def write_note(app, author, subject, body=MY_NOTE, offer=""):
    with app.app_context():
        save_note(db.session.get(User, author.id), db.session.get(User, subject.id), body, offer,
                  met_at=datetime.utcnow() - timedelta(hours=1))


# --- password, email, sessions ---------------------------------------------------------------------------------

def test_changing_the_password_signs_out_every_other_device(app, make_user, login):
    me = make_user()
    phone, laptop = signed_in(app, login, me), signed_in(app, login, me)
    wrong = phone.submit("/account/password", {"password-current_password": "not my password",
                                               "password-new_password": NEW_PASSWORD})
    assert wrong.status_code == 422 and b"not your current password" in wrong.data
    assert laptop.get("/people").status_code == 200  # nothing changed yet

    done = phone.submit("/account/password", {"password-current_password": PASSWORD,
                                              "password-new_password": NEW_PASSWORD})
    assert done.status_code == 302
    assert phone.get("/people").status_code == 200  # this device stays signed in
    assert laptop.get("/people").status_code == 302  # the other one is signed out
    fresh = app.test_client()
    assert fresh.submit("/login", {"email": me.email, "password": PASSWORD}).status_code == 401
    assert fresh.submit("/login", {"email": me.email, "password": NEW_PASSWORD}).status_code == 302


def test_sign_out_of_other_devices(app, make_user, login):
    me = make_user()
    phone, laptop = signed_in(app, login, me), signed_in(app, login, me)
    assert phone.submit("/account/sessions/end-others").status_code == 302
    assert phone.get("/people").status_code == 200 and laptop.get("/people").status_code == 302


def test_a_weak_new_password_is_explained(app, make_user, login):
    me = make_user()
    client = signed_in(app, login, me)
    response = client.submit("/account/password", {"password-current_password": PASSWORD,
                                                   "password-new_password": "password1"})
    assert response.status_code == 422 and b"most common" in response.data


def test_changing_the_email_asks_for_the_password_and_a_link_from_the_new_inbox(app, runner, mailbox, make_user,
                                                                               login):
    """Finding 9: the new address confirms the change, the old one is told, reset links sent before die."""
    me, other = make_user(email="me@example.com"), make_user(email="taken@example.com")
    client = signed_in(app, login, me)
    client.submit("/password/forgot", {"email": "me@example.com"})  # a reset link already in the old inbox
    send_due(runner)
    old_reset = reset_link(mailbox.to("me@example.com")[0])
    refused = client.submit("/account/email", {"email-email": "new@example.com", "email-password": "guess guess"})
    assert refused.status_code == 422
    # A taken address gets the same answer as a free one (and no email).
    answers = [client.submit("/account/email", {"email-email": address, "email-password": PASSWORD},
                             follow_redirects=True).data.decode().replace(address, "ADDRESS")
               for address in (other.email, "new@example.com")]
    assert "We sent a link to ADDRESS" in answers[0] and answers[0].count("ADDRESS") == answers[1].count("ADDRESS")
    with app.app_context():
        assert db.session.get(User, me.id).email == "me@example.com"  # nothing changes before the link
    send_due(runner)
    assert mailbox.to("taken@example.com") == []
    confirm = re.search(r"http://relbuild\.test(/email/confirm/\S+)",
                        mailbox.to("new@example.com")[0].get_body(("plain",)).get_content()).group(1)
    page = app.test_client().get(confirm)
    assert page.status_code == 200 and b"new@example.com" in page.data
    with app.app_context():
        assert db.session.get(User, me.id).email == "me@example.com"  # opening the link (a GET) changes nothing
    assert app.test_client().submit(confirm).status_code == 200
    with app.app_context():
        user = db.session.get(User, me.id)
        assert (user.email, user.pending_email) == ("new@example.com", None) and user.email_confirmed_at
    send_due(runner)
    notice = mailbox.to("me@example.com")[-1]
    assert notice["Subject"] == "Your Relbuild email address was changed"
    assert "new@example.com" in notice.get_body(("plain",)).get_content()
    assert app.test_client().get(old_reset).status_code == 410  # the reset link sent to the old address is dead
    again = app.test_client().submit(confirm)  # opening it again changes nothing more
    assert again.status_code == 200 and b"is confirmed" in again.data


def test_wrong_passwords_for_sensitive_actions_are_rate_limited(app, make_user, login):
    me = make_user()
    client = signed_in(app, login, me)
    limiter.enabled = True
    codes = [client.submit("/badge/replace", {"password": f"wrong guess {i}"}).status_code for i in range(11)]
    assert codes[:10] == [422] * 10 and codes[10] == 429


# --- password reset ----------------------------------------------------------------------------------------------

def reset_link(message) -> str:
    return re.search(r"http://relbuild\.test(/password/reset/\S+)", message.get_body(("plain",)).get_content()).group(1)


def test_password_reset_by_email_works_once_and_signs_out_everywhere(app, runner, mailbox, make_user, login):
    me = make_user()
    old_device = signed_in(app, login, me)
    client = app.test_client()
    known = client.submit("/password/forgot", {"email": me.email})
    unknown = client.submit("/password/forgot", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    # The same page either way: no way to tell whether an address has an account. (The CSRF token is
    # signed with the time, so it differs when the second changes between the two requests.)
    token = re.compile(rb'(csrf-token" content|csrf_token" type="hidden" value|csrf_token" value)="[^"]+"')
    assert token.sub(rb"\1", known.data.replace(me.email.encode(), b"X")) == \
        token.sub(rb"\1", unknown.data.replace(b"nobody@example.com", b"X"))

    assert "sent 1 prompt in 1 email," in send_due(runner)
    [message] = mailbox.messages
    assert message["To"] == me.email and message["Subject"] == "Reset your Relbuild password"
    link = reset_link(message)
    assert link in message.get_body(("html",)).get_content()

    assert client.get(link).status_code == 200
    weak = client.submit(link, {"password": "12345678"})
    assert weak.status_code == 422
    assert client.submit(link, {"password": NEW_PASSWORD}).status_code == 302
    assert client.get("/people").status_code == 200  # signed in with the new password
    assert old_device.get("/people").status_code == 302  # every earlier session ended

    again = app.test_client().get(link)
    assert again.status_code == 410 and b"already used" in again.data
    assert app.test_client().submit("/login", {"email": me.email, "password": NEW_PASSWORD}).status_code == 302


def test_reset_links_expire_and_cannot_be_forged(app, client, make_user, monkeypatch):
    me = make_user()
    with app.app_context(), app.test_request_context():
        token = accounts.reset_token(db.session.get(User, me.id))
    monkeypatch.setattr(accounts, "RESET_MAX_AGE", -1)
    expired = client.get(f"/password/reset/{token}")
    assert expired.status_code == 410 and b"expired" in expired.data
    forged = client.get(f"/password/reset/{token[:-4]}AAAA")
    assert forged.status_code == 404 and b"not valid" in forged.data


def test_one_reset_email_at_a_time_and_a_friendly_limit(app, client, runner, mailbox, make_user):
    me = make_user()
    for _ in range(3):
        client.submit("/password/forgot", {"email": me.email})
    assert "sent 1 prompt in 1 email," in send_due(runner)
    limiter.enabled = True
    codes = [client.submit("/password/forgot", {"email": me.email}).status_code for _ in range(6)]
    assert codes[:5] == [200] * 5 and codes[5] == 429


def test_reset_emails_go_out_even_with_prompt_emails_turned_off(app, client, runner, mailbox, make_user):
    me = make_user()
    with app.app_context():
        db.session.get(User, me.id).email_prompts = False
        db.session.commit()
    client.submit("/password/forgot", {"email": me.email})
    assert "sent 1 prompt in 1 email," in send_due(runner)


# --- export --------------------------------------------------------------------------------------------------------

def test_export_has_my_profile_notes_people_and_vcards_and_nothing_of_others(app, make_user, login):
    me = make_user(name="Mina Export", headline="Cartographer")
    sharer = make_user(name="Sam Shares", share_email=True, headline="=HYPERLINK(\"x\")")
    private = make_user(name="Pia Private")
    fan = make_user(name="Fay Fan", share_email=True)
    write_note(app, me, sharer, offer="Intro to the map club")
    write_note(app, me, private, body="Pia restores old bicycles; wants a workshop space.")
    write_note(app, fan, me, body=THEIR_NOTE)
    client = signed_in(app, login, me)

    response = client.get("/account/export.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = set(archive.namelist())
    assert {"README.txt", "profile.json", "notes.json", "prompts.json", "events.json", "people.csv"} <= names
    everything = b"".join(archive.read(n) for n in names).decode()
    assert THEIR_NOTE not in everything and private.email not in everything

    profile = json.loads(archive.read("profile.json"))
    assert profile["name"] == "Mina Export" and profile["email"] == me.email
    notes = {n["person"]["name"]: n for n in json.loads(archive.read("notes.json"))}
    assert notes["Sam Shares"]["body"] == MY_NOTE and notes["Sam Shares"]["offer"] == "Intro to the map club"
    assert notes["Sam Shares"]["person"]["email"] == sharer.email and notes["Pia Private"]["person"]["email"] is None
    assert {p["kind"] for p in json.loads(archive.read("prompts.json"))} >= {"digest", "offer_check", "reconnect"}

    assert archive.read("people.csv").startswith("\ufeffname,".encode())  # a BOM: Excel then reads UTF-8
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(archive.read("people.csv").decode("utf-8-sig")))}
    assert set(rows) == {"Sam Shares", "Pia Private", "Fay Fan"}
    assert rows["Sam Shares"]["headline"].startswith("'=")  # a formula is defused for spreadsheets
    assert rows["Fay Fan"]["note"] == ""  # who connected with me, never what they wrote

    vcards = sorted(n for n in names if n.startswith("contacts/"))
    assert vcards == ["contacts/Fay-Fan.vcf", "contacts/Sam-Shares.vcf"]
    card = archive.read("contacts/Sam-Shares.vcf").decode()
    assert card.startswith("BEGIN:VCARD\r\nVERSION:3.0\r\n") and f"EMAIL;TYPE=INTERNET:{sharer.email}" in card
    assert "NOTE:Marker-7f3 builds tide-powered lamps\\; asked about grant writing." in card


def test_export_needs_a_login(client):
    assert client.get("/account/export.zip").status_code == 302


# --- calendar feed -------------------------------------------------------------------------------------------------

def feed_url(client) -> str:
    page = client.get("/account").data.decode()
    return re.search(r"http://relbuild\.test(/calendar/[^\"<]+\.ics)", page).group(1)


def test_private_calendar_feed_lists_upcoming_follow_ups_and_can_be_revoked(app, make_user, login):
    me, person = make_user(), make_user(name="Cal Person")
    write_note(app, me, person, offer="Send the grant template")
    client = signed_in(app, login, me)
    assert b"Make my calendar link" in client.get("/account").data
    client.submit("/account/calendar")
    url = feed_url(client)

    stranger = app.test_client()  # calendar apps fetch without cookies
    response = stranger.get(url)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    events = [c for c in calendar.walk("VEVENT")]
    summaries = {str(e["SUMMARY"]) for e in events}
    assert "Read your note about Cal Person" in summaries and "Follow up with Cal Person" in summaries
    assert any("Send the grant template" in s for s in summaries)
    assert all(MY_NOTE in str(e["DESCRIPTION"]) for e in events)
    with app.app_context():
        due = sorted(p.due_at for p in db.session.scalars(sa.select(Prompt).where(Prompt.user_id == me.id)))
    assert sorted(e.decoded("DTSTART").replace(tzinfo=None) for e in events) == due

    client.submit("/account/calendar")  # a new link: the old one stops working
    assert stranger.get(url).status_code == 404
    newer = feed_url(client)
    assert stranger.get(newer).status_code == 200
    client.submit("/account/calendar/off")
    assert stranger.get(newer).status_code == 404
    assert stranger.get("/calendar/not-a-real-token.ics").status_code == 404


# --- deletion ------------------------------------------------------------------------------------------------------

def test_deleting_my_account_removes_my_notes_and_prompts_but_not_what_others_wrote(app, runner, mailbox,
                                                                                     make_user, login):
    me = make_user(name="Dee Leaving", headline="Leaves no trace", share_email=True)
    friend, other = make_user(name="Fran Friend"), make_user()
    write_note(app, me, friend, offer="Lend the book")
    write_note(app, friend, me, body=THEIR_NOTE, offer="Send Dee the link")
    client = signed_in(app, login, me)

    for data in ({"delete-password": "wrong password!", "delete-confirm": "DELETE"},
                 {"delete-password": PASSWORD, "delete-confirm": "nope"}):
        refused = client.submit("/account/delete", data)
        assert refused.status_code == 422
    with app.app_context():
        assert count(Note, Note.author_id == me.id) == 1

    gone = client.submit("/account/delete", {"delete-password": PASSWORD, "delete-confirm": "delete"})
    assert gone.status_code == 302
    assert client.get("/people").status_code == 302  # signed out
    with app.app_context():
        assert count(Note, Note.author_id == me.id) == 0
        assert count(NoteWrite, NoteWrite.note_id.not_in(sa.select(Note.id))) == 0
        assert count(Prompt, Prompt.user_id == me.id) == 0
        assert count(Badge, Badge.user_id == me.id) == 0 and count(LoginSession, LoginSession.user_id == me.id) == 0
        row = db.session.get(User, me.id)
        assert row.name == "Deleted account" and me.email not in row.email and row.headline == ""
        kept = db.session.scalar(sa.select(Note).where(Note.author_id == friend.id))
        assert kept.body == THEIR_NOTE  # the friend's note stays theirs
        nudges = db.session.scalars(sa.select(Prompt.status).where(Prompt.note_id == kept.id,
                                                                   Prompt.kind != "digest")).all()
        assert set(nudges) == {"cancelled"}

    assert app.test_client().submit("/login", {"email": me.email, "password": PASSWORD}).status_code == 401
    assert app.test_client().get(f"/c/{me.token}").status_code == 404
    friend_client = signed_in(app, login, friend)
    page = friend_client.get(f"/people/{me.public_id}").data.decode()
    assert "deleted their Relbuild account" in page and THEIR_NOTE in page
    assert "Dee Leaving" not in page and "Leaves no trace" not in page and me.email not in page
    assert "Dee Leaving" not in friend_client.get("/people").data.decode()

    send_due(runner)
    assert mailbox.to(me.email) == []  # nothing left in the outbox for me
    assert other  # an unrelated account is untouched
    with app.app_context():
        assert db.session.get(User, other.id).deleted_at is None


@pytest.mark.parametrize("path", ["/account", "/account/export.zip"])
def test_account_pages_need_a_login(client, path):
    assert client.get(path).status_code == 302


def test_the_calendar_feed_and_the_exports_readme_are_in_the_owners_language(app, make_user, login):
    """A calendar app asks without a cookie and in any language: the feed's owner's language decides."""
    me, person = make_user(language="fr"), make_user(name="Cal Person")
    write_note(app, me, person, offer="Send the grant template")
    client = signed_in(app, login, me)
    client.submit("/account/calendar")
    feed = Calendar.from_ical(app.test_client().get(feed_url(client), headers={"Accept-Language": "en"}).data)
    summaries = {str(e["SUMMARY"]) for e in feed.walk("VEVENT")}
    assert "Relire votre note sur Cal Person" in summaries and "Faire un suivi avec Cal Person" in summaries
    assert any(s.startswith("C’est fait\u00a0? Send the grant template") for s in summaries)
    assert str(feed["X-WR-CALNAME"]) == "Suivis Relbuild"
    archive = zipfile.ZipFile(io.BytesIO(client.get("/account/export.zip").data))
    readme = archive.read("README.txt").decode()
    assert readme.startswith("Vos données Relbuild, exportées le ")
    assert "notes.json     chaque note que vous avez écrite" in readme
    # The machine-readable parts keep their names: programs read them.
    assert archive.read("people.csv").decode("utf-8-sig").startswith("name,headline,email")
