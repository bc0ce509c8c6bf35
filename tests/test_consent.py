"""Consent: imports and co-organizers are invitations, nothing reveals who has an account, no spam cannon,
and no organizer figure gives away one person's activity (issue 13, findings 1, 2, 3 and 11)."""
from __future__ import annotations

import io
import re
import statistics
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from relbuild.extensions import db
from relbuild.models import AttendeeImport, Event, EventAttendee, EventOrganizer, EventOutcome, Invitation, Prompt, User
from relbuild.services.events import join_event
from relbuild.services.notes import save_note
from relbuild.services.outcomes import MIN_GROUP, geometric_noise, measure, outcomes
from tests.conftest import PASSWORD
from tests.test_events import EVENT, confirm_url, event_id, organizer, upload  # noqa: F401  (fixtures)

ENDED = datetime(2026, 3, 14, 15, 0)  # EVENT ends 16:00 in Berlin


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def answer_link(message) -> str:
    return re.search(r"http://relbuild\.test(/invitations/\S+)", message.get_body(("plain",)).get_content()).group(1)


def send(runner) -> str:
    return runner.invoke(args=["followups", "send-due"]).output


def masked(page: str, *emails: str) -> str:
    """The page with addresses, the per-upload id and CSRF tokens blanked out, to compare two answers."""
    for email in emails:
        page = page.replace(email, "ADDRESS")
    page = re.sub(r'(name="csrf_token" type="hidden" value|name="csrf-token" content|name="csrf_token" value)="[^"]+"',
                  r'\1="TOKEN"', page)
    return re.sub(r"/import/[0-9a-f-]{36}", "/import/ID", page)


# --- finding 1: silent enrolment ---------------------------------------------------------------------------------

def test_an_imported_account_is_only_invited_and_gets_no_badge_or_row_until_it_accepts(
        app, client, runner, mailbox, event_id, make_user, login):
    victim = make_user(name="Vera Victim", email="vera@example.com", headline="Quiet person")
    page = upload(client, event_id, "name,email\nVera Victim,vera@example.com\nNew Person,new@example.com\n")
    assert page.status_code == 200  # the preview: nothing written but the preview itself
    assert count(app, Invitation) == 0 and count(app, Prompt) == 0
    preview = page.data.decode()
    assert preview.count("will be invited") == 3  # the count line, and both rows alike
    client.submit(confirm_url(preview))
    # Invited, not enrolled: no attendee row, no badge on the organizer's sheet, not in the export.
    assert count(app, EventAttendee) == 0 and count(app, Invitation) == 2
    sheet = client.get(f"/events/{event_id}/badges.pdf").data
    assert "Vera" not in "".join(p.extract_text() for p in PdfReader(io.BytesIO(sheet)).pages)
    assert "vera@example.com" not in client.get(f"/events/{event_id}/attendees.csv").data.decode()

    assert "sent 2" in send(runner)
    to_vera, to_new = mailbox.to("vera@example.com")[0], mailbox.to("new@example.com")[0]
    # The same email whether or not the address has an account; the organizer's words are quoted.
    assert to_vera["Subject"] == to_new["Subject"] == "Invitation to “Spring Career Fair” on Relbuild"
    body = lambda m: re.sub(r"/invitations/\S+|Hello \w+", "", m.get_body(("plain",)).get_content())  # noqa: E731
    assert body(to_vera) == body(to_new)

    # Vera accepts from the email (signed out: the link proves the address); then she is an attendee.
    vera = app.test_client()
    shown = vera.get(answer_link(to_vera))
    assert shown.status_code == 200 and b"Spring Career Fair" in shown.data and b"Olga Organizer" in shown.data
    accepted = vera.submit(answer_link(to_vera) + "/accept")
    assert accepted.status_code == 302 and "/login" in accepted.headers["Location"]
    assert count(app, EventAttendee, EventAttendee.user_id == victim.id) == 1

    # A new address accepts by making its account: signed in, address confirmed, attending.
    newcomer = app.test_client()
    assert b"Accept and make your account" in newcomer.get(answer_link(to_new)).data
    made = newcomer.submit(answer_link(to_new) + "/accept", {"name": "New Person", "password": "maple river lantern"})
    assert made.status_code == 302 and newcomer.get("/badge").status_code == 200
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "new@example.com"))
        assert user.email_confirmed_at is not None
        assert db.session.get(EventAttendee, (event_id, user.id)) is not None


def test_declining_is_final_and_looks_like_no_answer_to_the_organizer(app, client, runner, mailbox, event_id, make_user):
    make_user(email="dee@example.com")
    client.submit(confirm_url(upload(client, event_id, "name,email\nDee,dee@example.com\n").data.decode()))
    send(runner)
    link = answer_link(mailbox.to("dee@example.com")[0])
    page = app.test_client().submit(link + "/decline")
    assert page.status_code == 200 and b"They are not told" in page.data
    assert count(app, EventAttendee) == 0
    assert b"1 invited, not joined yet" in client.get(f"/events/{event_id}").data  # same as no answer
    again = upload(client, event_id, "name,email\nDee,dee@example.com\n").data
    assert b"invited before" in again and b"Nobody to invite from this file." in again
    assert app.test_client().submit(link + "/accept").status_code == 302  # the answer stands
    assert count(app, EventAttendee) == 0


def test_invitations_wait_in_the_app_for_a_confirmed_address_only(app, organizer, event_id, make_user, login):
    from relbuild.services.invitations import invite

    invited = make_user(name="Ivy", email="ivy@example.com")
    with app.app_context():
        invite(db.session.get(Event, event_id), db.session.get(User, organizer.id),
               [{"email": "ivy@example.com"}, {"email": "sam@example.com"}])
    ivy = login(app.test_client(), invited)
    events = ivy.get("/events").data.decode()
    assert "Spring Career Fair" in events and "Accept" in events
    invitation_id = re.search(r"/events/invitations/(\d+)/accept", events).group(1)
    # Someone who signed up with Sam's address but never confirmed it sees nothing of Sam's invitations.
    squatter = app.test_client()
    squatter.submit("/register", {"name": "Not Sam", "email": "sam@example.com", "password": PASSWORD})
    assert "Spring Career Fair" not in squatter.get("/events").data.decode()
    assert squatter.submit(f"/events/invitations/{invitation_id}/accept").status_code == 404
    assert ivy.submit(f"/events/invitations/{invitation_id}/accept").headers["Location"] == f"/events/{event_id}"
    assert count(app, EventAttendee) == 1


# --- finding 2: the email oracle ---------------------------------------------------------------------------------

def test_the_preview_and_the_co_organizer_form_answer_the_same_for_existing_and_new_addresses(
        app, client, event_id, make_user):
    make_user(name="Dora Joined", email="dora@example.com")
    known = upload(client, event_id, "name,email\nDora,dora@example.com\n")
    unknown = upload(client, event_id, "name,email\nDora,nobody@example.com\n")
    assert masked(known.data.decode(), "dora@example.com") == masked(unknown.data.decode(), "nobody@example.com")
    assert "already on Relbuild" not in known.data.decode()

    answers = []
    for email in ("dora@example.com", "nobody@example.com"):
        response = client.submit(f"/events/{event_id}/organizers", {"email": email}, follow_redirects=True)
        answers.append(masked(re.search(r'<div class="flashes".*?</div>', response.data.decode(), re.S).group(0), email))
        assert f"<li>{email} <span class=\"meta\">invited, not joined yet</span></li>" in response.data.decode()
    assert answers[0] == answers[1] and "An invitation is on its way to ADDRESS" in answers[0]
    assert count(app, EventOrganizer) == 1  # only Olga: Dora is invited, not made an organizer


def test_a_co_organizer_joins_by_accepting(app, client, runner, mailbox, event_id, make_user, login):
    hal = make_user(name="Hal Helper", email="hal@example.com")
    client.submit(f"/events/{event_id}/organizers", {"email": "HAL@example.com"})
    helper = login(app.test_client(), hal)
    assert helper.get(f"/events/{event_id}/dashboard").status_code == 404  # not yet
    send(runner)
    message = mailbox.to("hal@example.com")[0]
    assert "invited to be an organizer of the event “Spring Career Fair”" in " ".join(
        message.get_body(("plain",)).get_content().split())
    assert helper.submit(answer_link(message) + "/accept").status_code == 302
    assert helper.get(f"/events/{event_id}/dashboard").status_code == 200


# --- finding 3: no spam cannon -----------------------------------------------------------------------------------

def test_invitations_are_capped_per_organizer_per_day_and_per_event(app, client, event_id, runner):
    app.config.update(INVITES_PER_ORGANIZER_DAY=5, INVITES_PER_EVENT=8)
    try:
        six = "name,email\n" + "".join(f"P{n},p{n}@example.org\n" for n in range(6))
        page = upload(client, event_id, six).data.decode()
        assert "you can send 5 more now" in page and "Send 6 invitations" not in page
        with app.app_context():
            import_id = db.session.scalar(sa.select(AttendeeImport.id).order_by(AttendeeImport.created_at.desc()))
        refused = client.submit(f"/events/{event_id}/import/{import_id}", follow_redirects=True)  # posted anyway
        assert "at most 5 in 24 hours" in refused.data.decode()
        assert count(app, Invitation) == 0 and count(app, Prompt) == 0  # all or nothing
        five = "name,email\n" + "".join(f"P{n},p{n}@example.org\n" for n in range(5))
        client.submit(confirm_url(upload(client, event_id, five).data.decode()))
        assert count(app, Invitation) == 5
        # The co-organizer form counts too, with the same answer whatever the address.
        over = client.submit(f"/events/{event_id}/organizers", {"email": "extra@example.org"}, follow_redirects=True)
        assert "you can send 0 more now" in over.data.decode() and count(app, Invitation) == 5
        # A day later the organizer may send more, up to the event's own limit.
        with app.app_context():
            db.session.execute(sa.update(Invitation).values(created_at=datetime.utcnow() - timedelta(days=1, minutes=1)))
            db.session.commit()
        four = "name,email\n" + "".join(f"Q{n},q{n}@example.org\n" for n in range(4))
        page = upload(client, event_id, four).data.decode()
        assert "you can send 3 more now" in page
    finally:
        app.config.update(INVITES_PER_ORGANIZER_DAY=5000, INVITES_PER_EVENT=10000)


def test_an_organizer_with_an_unconfirmed_address_cannot_invite(app, event_id):
    newcomer = app.test_client()
    newcomer.submit("/register", {"name": "Fresh Organizer", "email": "fresh@example.com", "password": PASSWORD})
    created = newcomer.submit("/events/new", EVENT)
    new_event = int(created.headers["Location"].rsplit("/", 1)[1])
    page = newcomer.get(f"/events/{new_event}/import").data.decode()
    assert "Confirm your email address before you invite anyone" in page
    assert upload(newcomer, new_event, "name,email\nA,a@example.org\n").status_code == 403
    refused = newcomer.submit(f"/events/{new_event}/organizers", {"email": "b@example.org"}, follow_redirects=True)
    assert "Confirm your email address before you invite anyone" in refused.data.decode()
    assert count(app, Invitation) == 0


@pytest.mark.parametrize("name", [
    "Action required: re-verify your Relbuild login at http://relbuild-login.example",
    "Verify at relbuild-security.com",
    "Login: www.relbuild.example",
    "Write to support@relbuild.example",
    "ｒｅｌｂｕｉｌｄ．ｃｏｍ fair",  # full-width letters fold to relbuild.com
    "Fair at 203.0.113.9",
])
def test_event_names_and_venues_cannot_hold_links(app, client, organizer, name):
    for field in ("name", "venue"):
        response = client.submit("/events/new", {**EVENT, field: name})
        assert response.status_code == 422 and "cannot contain a web address" in response.data.decode()
    assert count(app, Event) == 0


def test_the_digest_subject_quotes_the_event_name(app, runner, mailbox, event_id, make_user):
    ann, bea = make_user(name="Ann", email="ann@example.com"), make_user(name="Bea")
    with app.app_context():
        join_event(db.session.get(User, ann.id), db.session.get(Event, event_id))
        save_note(db.session.get(User, ann.id), db.session.get(User, bea.id), "Talked about kilns and glazes",
                  met_at=datetime(2026, 3, 14, 10, 0))
    runner.invoke(args=["followups", "send-due", "--now", "2026-03-16T00:00"])
    assert mailbox.to("ann@example.com")[0]["Subject"] == "Your notes from “Spring Career Fair”: Bea"


# --- finding 1 (figures): puppets cannot work out one person's activity ------------------------------------------

def puppet_world(app, event_id, make_user, puppets: int, victim_notes: int) -> tuple[list, object]:
    """An organizer's puppets (each one note, no offer) and one real attendee with `victim_notes` notes."""
    people = [make_user(name=f"Puppet {n}") for n in range(puppets)]
    victim = make_user(name="Vic Victim")
    met = [make_user(name=f"Met {n}") for n in range(victim_notes)]
    with app.app_context():
        event = db.session.get(Event, event_id)
        for person in people + [victim]:
            join_event(db.session.get(User, person.id), event)
        for n, person in enumerate(people):
            save_note(db.session.get(User, person.id), db.session.get(User, met[0].id), "Puppet note about robotics",
                      met_at=datetime(2026, 3, 14, 10, n % 50))
        for n, other in enumerate(met):
            save_note(db.session.get(User, victim.id), db.session.get(User, other.id), "Real note about kilns",
                      offer="Send a link", met_at=datetime(2026, 3, 14, 11, n))
    return people, victim


def test_no_figure_before_the_day_after_and_none_at_all_for_few_active_people(app, client, event_id, make_user):
    puppet_world(app, event_id, make_user, puppets=4, victim_notes=3)
    with app.app_context():
        event = db.session.get(Event, event_id)
        before = outcomes(event, now=ENDED + timedelta(hours=12))
        assert before.stage is None and before.figures == {} and before.joined == 5
        small = outcomes(event, now=ENDED + timedelta(days=2))  # 5 active: under MIN_GROUP, nothing shown
        assert small.stage == "day" and not small.broken_out
    page = client.get(f"/events/{event_id}/dashboard").data.decode()
    assert 'data-stat="notes"' not in page and 'data-stat="active"' not in page
    csv_text = client.get(f"/events/{event_id}/attendees.csv").data.decode()
    assert csv_text.splitlines()[0] == "\ufeffname,email,joined"  # no per-person activity column


def test_puppets_cannot_subtract_their_way_to_the_victims_activity(app, event_id, make_user):
    puppets, _ = puppet_world(app, event_id, make_user, puppets=MIN_GROUP + 2, victim_notes=4)
    with app.app_context():
        event = db.session.get(Event, event_id)
        exact = measure(event, noise=lambda scale: 0)
        assert (exact["active"], exact["notes"], exact["with_offer"]) == (len(puppets) + 1, len(puppets) + 4, 4)
        # The attack: published figure minus what the puppets did. With the real mechanism the answer
        # scatters widely around the truth (4 notes, 4 offers), so it cannot be read off.
        guesses = [measure(event)["notes"] - len(puppets) for _ in range(300)]
        offers = [measure(event)["with_offer"] for _ in range(300)]
        assert statistics.pstdev(guesses) > 5 and statistics.pstdev(offers) > 5
        assert sum(g == 4 for g in guesses) < 0.15 * len(guesses)
        # One publication per stage, kept: looking again (or after more activity) shows the same numbers.
        first = outcomes(event, now=ENDED + timedelta(days=2)).figures
        save_note(db.session.get(User, puppets[0].id), db.session.get(User, make_user().id), "Another puppet note",
                  met_at=datetime(2026, 3, 14, 12, 0))
        assert outcomes(event, now=ENDED + timedelta(days=3)).figures == first
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventOutcome)) == 1
        assert outcomes(event, now=ENDED + timedelta(days=8)).stage == "week"


def test_the_noise_is_centred_and_about_the_size_asked_for():
    draws = [geometric_noise(10) for _ in range(4000)]
    assert abs(statistics.fmean(draws)) < 1.5 and 10 < statistics.pstdev(draws) < 18


def test_one_persons_notes_count_at_most_clip_times(app, event_id, make_user):
    from relbuild.services.outcomes import CLIP

    puppet_world(app, event_id, make_user, puppets=MIN_GROUP, victim_notes=CLIP + 15)
    with app.app_context():
        exact = measure(db.session.get(Event, event_id), noise=lambda scale: 0)
        assert exact["notes"] == MIN_GROUP + CLIP and exact["with_offer"] == CLIP
        assert sum(count for _, count in exact["hours"]) == MIN_GROUP + 1  # people per hour, once each


def test_the_dashboard_shows_published_figures(app, client, event_id, make_user):
    puppet_world(app, event_id, make_user, puppets=MIN_GROUP + 5, victim_notes=3)
    with app.app_context():
        event = db.session.get(Event, event_id)
        db.session.add(EventOutcome(event_id=event.id, stage="day", computed_at=ENDED,
                                    figures=measure(event, noise=lambda scale: 0)))
        event.ends_at = datetime.utcnow() - timedelta(days=2)  # so that "day" is the latest stage now
        event.starts_at = event.ends_at - timedelta(hours=6)
        db.session.commit()
    page = client.get(f"/events/{event_id}/dashboard").data.decode()
    stat = lambda name: re.search(rf'data-stat="{name}">([^<]+)<', page).group(1)  # noqa: E731
    assert (stat("joined"), stat("active"), stat("notes"), stat("offers")) == ("16", "16", "18", "17%")
    assert "published the day after the event" in page and "People writing notes, by hour" in page
    assert "Real note" not in page and "Puppet note" not in page


# --- finding 11: deletion reaches pending imports and invitations ------------------------------------------------

def test_a_deleted_person_is_not_invited_by_an_import_previewed_before(app, client, runner, mailbox, event_id,
                                                                         make_user, login):
    gone = make_user(name="Gina Gone", email="gina@example.com")
    preview = upload(client, event_id, "name,email\nGina,gina@example.com\nKim,kim@example.com\n").data.decode()
    # Gina was also invited to another event already.
    other_event = int(client.submit("/events/new", {**EVENT, "name": "Autumn Fair"}).headers["Location"]
                      .rsplit("/", 1)[1])
    client.submit(confirm_url(upload(client, other_event, "name,email\nGina,gina@example.com\n").data.decode()))
    assert count(app, Invitation, Invitation.email == "gina@example.com") == 1
    gina = login(app.test_client(), gone)
    assert gina.submit("/account/delete", {"delete-password": PASSWORD, "delete-confirm": "DELETE"}).status_code == 302
    assert count(app, Invitation, Invitation.email == "gina@example.com") == 0
    assert count(app, Prompt, Prompt.address == "gina@example.com") == 0
    client.submit(confirm_url(preview))  # confirmed after the deletion
    send(runner)
    assert mailbox.to("gina@example.com") == [] and len(mailbox.to("kim@example.com")) == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(
            User.email == "gina@example.com")) == 0
