"""Follow-up prompts: cadence, real SMTP delivery, actions from email, unsubscribe, the Follow-ups tab."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from relbuild.extensions import db
from relbuild.models import Note, Prompt, User

MET = datetime(2026, 11, 29, 14, 0)  # a Sunday, 15:00 in Berlin
NOTE = 'Building a <b>bike-sharing</b> app & asked how to "recruit" riders for tests.'


@pytest.fixture
def write(app, make_user):
    """Make an author in Berlin and return write(subject_name, body, offer, met_at) -> note id."""
    author = make_user(name="Ann Author", email="ann@example.com", timezone="Europe/Berlin")

    def do(name="Bea Builder", body=NOTE, offer="Send her the UX meetup link", met_at=MET, share_email=False):
        from relbuild.services.notes import save_note

        subject = make_user(name=name, share_email=share_email)
        with app.app_context():
            return save_note(db.session.get(User, author.id), db.session.get(User, subject.id), body, offer,
                             met_at=met_at)[0].id

    do.author = author
    return do


def prompts(app, **filters):
    with app.app_context():
        return [(p.kind, p.due_at, p.status) for p in db.session.scalars(
            sa.select(Prompt).filter_by(**filters).order_by(Prompt.due_at, Prompt.kind))]


def send(runner, now: str) -> str:
    result = runner.invoke(args=["followups", "send-due", "--now", now])
    assert result.exit_code == 0, result.output
    return result.output


def test_writing_a_note_schedules_digest_offer_check_and_reconnect_in_local_time(app, write):
    write()
    assert prompts(app) == [
        ("digest", datetime(2026, 11, 30, 8, 0), "pending"),  # 09:00 Berlin the next morning
        ("offer_check", datetime(2026, 12, 6, 8, 0), "pending"),
        ("reconnect", datetime(2026, 12, 29, 8, 0), "pending"),
    ]


def test_no_offer_no_offer_check(app, write):
    write(offer="")
    assert [kind for kind, _, _ in prompts(app)] == ["digest", "reconnect"]


def test_digest_arrives_once_by_real_smtp_with_the_note_verbatim(app, runner, mailbox, write):
    write(share_email=True)
    write(name="Cy Coder", body="Cy is moving to Lisbon and wants intros to the Rust meetup there.", offer="")
    assert "sent 0" in send(runner, "2026-11-30T07:59")
    assert mailbox.messages == []
    assert "sent 2" in send(runner, "2026-11-30T08:00")
    assert len(mailbox.messages) == 1  # one digest for the day, listing both
    message = mailbox.messages[0]
    assert message["To"] == "ann@example.com"
    assert message["Subject"] == "Your notes from Sunday 29 November: Bea Builder and 1 more"
    assert re.fullmatch(r"<digest\.[0-9a-f]{32}\.2026-11-29@relbuild\.test>", message["Message-ID"])
    unsubscribe = re.fullmatch(r"<(http://relbuild\.test/unsubscribe/\S+)>", message["List-Unsubscribe"]).group(1)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert NOTE in text and "Cy is moving to Lisbon" in text
    assert "You offered: Send her the UX meetup link" in text
    assert "Building a &lt;b&gt;bike-sharing&lt;/b&gt; app &amp; asked how to &#34;recruit&#34; riders" in html
    assert "<b>bike-sharing</b>" not in html
    assert unsubscribe in text and unsubscribe.replace("&", "&amp;") in html
    assert "mailto:" in html  # Bea shares her email: "write to them" is a draft
    assert "/people/" in text  # Cy does not: a link to his page instead
    # the same pass again sends nothing
    assert "sent 0" in send(runner, "2026-11-30T08:00")
    assert "sent 0" in send(runner, "2026-11-30T10:00")
    assert len(mailbox.messages) == 1


def test_a_name_with_line_breaks_cannot_add_email_headers(app, runner, mailbox, write, client):
    client.submit("/register", {"name": "Eve\r\nBcc: victim@example.com", "email": "eve@example.com",
                                "password": "violet harbour lantern"})
    with app.app_context():
        assert db.session.scalar(sa.select(User.name).where(User.email == "eve@example.com")) == \
            "Eve Bcc: victim@example.com"
    note_id = write(name="Mo Multiline")
    with app.app_context():  # a name stored before names were kept on one line
        db.session.get(Note, note_id).subject.name = "Mo\nBcc: victim@example.com"
        db.session.commit()
    send(runner, "2026-11-30T08:00")  # the digest (and Eve's link to confirm her address, when already due)
    [message] = [m for m in mailbox.messages if m["Subject"].startswith("Your notes")]
    assert message["Subject"] == "Your notes from Sunday 29 November: Mo Bcc: victim@example.com"
    assert all(m["Bcc"] is None for m in mailbox.messages) and mailbox.to("victim@example.com") == []


def test_note_edited_before_the_digest_goes_out_in_its_latest_form(app, client, runner, mailbox, write, login):
    write()
    login(client, write.author)
    bea = db_user(app, "Bea Builder")
    client.submit(f"/people/{bea.public_id}", {"body": "Edited: she builds bike maps for Berlin.", "offer": ""})
    send(runner, "2026-11-30T08:00")
    text = mailbox.messages[0].get_body(("plain",)).get_content()
    assert "Edited: she builds bike maps for Berlin." in text and "bike-sharing" not in text
    assert "offer_check" not in [kind for kind, _, _ in prompts(app, status="pending")]  # offer removed


def db_user(app, name: str):
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.name == name))
        db.session.expunge(user)
        return user


def test_offer_check_after_a_week_and_reconnect_after_a_month(app, runner, mailbox, write):
    write()
    send(runner, "2026-11-30T08:00")
    assert "sent 0" in send(runner, "2026-12-06T07:59")
    assert "sent 1" in send(runner, "2026-12-06T08:00")
    assert mailbox.messages[-1]["Subject"] == "You offered to help Bea Builder — did you?"
    assert "Send her the UX meetup link" in mailbox.messages[-1].get_body(("plain",)).get_content()
    assert "sent 1" in send(runner, "2026-12-29T08:00")
    assert mailbox.messages[-1]["Subject"] == "How is it going with Bea Builder?"
    assert len({m["Message-ID"] for m in mailbox.messages}) == 3


def action_links(message) -> dict[str, str]:
    text = message.get_body(("plain",)).get_content()
    return {"done": re.search(r"I followed up:\s+(\S+)", text).group(1),
            "snooze": re.search(r"Remind me in a week:\s+(\S+)", text).group(1)}


def test_followed_up_from_email_restarts_the_cadence(app, runner, mailbox, write):
    write()
    send(runner, "2026-11-30T08:00")
    link = action_links(mailbox.messages[0])["done"].replace("http://relbuild.test", "")
    visitor = app.test_client()  # no sign-in: the signed link is enough
    page = visitor.get(link)
    assert page.status_code == 200 and b"I followed up" in page.data
    assert prompts(app, kind="offer_check")[0][2] == "pending"  # GET changed nothing
    done = visitor.submit(link)
    assert done.status_code == 200 and b"Marked as followed up" in done.data
    with app.app_context():
        note = db.session.scalar(sa.select(Note))
        assert note.followed_up_at is not None and note.offer_done_at is not None
        followed = note.followed_up_at
    # no offer check any more; the reconnect moves to a month after the follow-up
    assert prompts(app, kind="offer_check")[0][2] == "cancelled"
    pending = prompts(app, status="pending")
    assert [kind for kind, _, _ in pending] == ["reconnect"] and pending[0][1] > followed + timedelta(days=29)
    assert "sent 0" in send(runner, "2026-12-06T08:00")
    assert visitor.submit(link).status_code == 200  # a second tap is harmless
    assert len(prompts(app, status="pending")) == 1


def test_snooze_from_email_reminds_a_week_later(app, runner, mailbox, write, clock):
    write(offer="")
    clock.move_to(datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc))  # the worker's morning pass
    send(runner, "2026-11-30T08:00")
    link = action_links(mailbox.messages[0])["snooze"].replace("http://relbuild.test", "")
    visitor = app.test_client()
    assert b"Remind me in a week" in visitor.get(link).data
    clock.move_to(datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc))  # Ann reads the email at lunch
    assert b"We will remind you in a week" in visitor.submit(link).data
    reminder = [due for kind, due, status in prompts(app) if kind == "reminder"]
    assert reminder == [datetime(2026, 12, 7, 8, 0)]  # 09:00 Berlin, a week later
    send(runner, (reminder[0] - timedelta(minutes=1)).isoformat())
    assert len(mailbox.messages) == 1
    send(runner, reminder[0].isoformat())
    assert mailbox.messages[-1]["Subject"] == "Reminder: follow up with Bea Builder"


def test_bad_and_forged_action_links_are_explained(client):
    assert client.get("/f/not-a-token").status_code == 404
    assert b"This link does not work" in client.get("/f/not-a-token").data
    assert client.get("/unsubscribe/forged").status_code == 404


def test_one_click_unsubscribe_without_cookies_stops_prompt_emails(app, runner, mailbox, write):
    write()
    send(runner, "2026-11-30T08:00")
    url = re.search(r"<(\S+)>", mailbox.messages[0]["List-Unsubscribe"]).group(1).replace("http://relbuild.test", "")
    bare = app.test_client()
    response = bare.post(url, data="List-Unsubscribe=One-Click",
                         content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200  # no redirect, no CSRF token, no cookie
    assert db_user(app, "Ann Author").email_prompts is False
    assert "sent 0" in send(runner, "2026-12-06T08:00")
    assert len(mailbox.messages) == 1
    assert prompts(app, kind="offer_check")[0][2] == "skipped"


def test_unsubscribe_page_asks_before_acting(app, runner, mailbox, write):
    write()
    send(runner, "2026-11-30T08:00")
    text = mailbox.messages[0].get_body(("plain",)).get_content()
    url = re.search(r"Unsubscribe from follow-up emails: (\S+)", text).group(1)
    page = app.test_client().get(url.replace("http://relbuild.test", ""))
    assert page.status_code == 200 and b"Stop the emails" in page.data
    assert db_user(app, "Ann Author").email_prompts is True


def test_smtp_down_then_back_delivers_everything_once(app, runner, mailbox, write):
    write()
    write(name="Cy Coder", met_at=MET - timedelta(days=1))
    mailbox.stop()
    output = send(runner, "2026-11-30T08:00")
    assert "sent 0" in output and "retrying 2" in output
    with app.app_context():
        assert all(p.attempts == 1 and p.last_error for p in db.session.scalars(
            sa.select(Prompt).where(Prompt.kind == "digest")))
    mailbox.start()
    assert "sent 0" in send(runner, "2026-11-30T08:00")  # backing off
    assert "sent 2" in send(runner, "2026-11-30T08:05")
    assert len(mailbox.messages) == 2
    assert "sent 0" in send(runner, "2026-11-30T09:00")


def test_refused_recipient_fails_after_a_few_attempts_and_others_still_go(app, runner, mailbox, write, make_user):
    write()
    other = make_user(name="Olly Other", email="olly@example.com")
    with app.app_context():
        from relbuild.services.notes import save_note
        save_note(db.session.get(User, other.id), db.session.get(User, write.author.id),
                  "Ann runs the design society and wants speakers", met_at=MET)
    mailbox.refuse.add("ann@example.com")
    send(runner, "2026-11-30T09:00")  # both digests are due (Olly is in UTC)
    assert [m["To"] for m in mailbox.messages] == ["olly@example.com"]
    assert prompts(app, kind="digest", user_id=write.author.id)[0][2] == "pending"  # will try again
    send(runner, "2026-11-30T10:00")
    send(runner, "2026-11-30T11:00")
    assert prompts(app, kind="digest", user_id=write.author.id)[0][2] == "failed"
    status = runner.invoke(args=["followups", "status"]).output
    assert "failed: 1" in status and "550" in status


def test_a_prompt_that_cannot_be_rendered_does_not_stop_the_others(app, runner, mailbox, write):
    write()
    with app.app_context():  # a broken row: a reconnect prompt whose note is missing
        due = datetime(2026, 11, 30, 7, 0)
        db.session.add(Prompt(user_id=write.author.id, kind="reconnect", due_at=due, next_attempt_at=due))
        db.session.commit()
    assert "sent 1 prompt in 1 email, failed 0, retrying 1" in send(runner, "2026-11-30T09:00")
    assert [m["To"] for m in mailbox.messages] == ["ann@example.com"]
    send(runner, "2026-11-30T10:00")
    send(runner, "2026-11-30T11:00")
    assert prompts(app, kind="reconnect", note_id=None)[0][2] == "failed"
    assert "failed: 1" in runner.invoke(args=["followups", "status"]).output


def test_without_smtp_host_messages_go_to_the_outbox_folder(app, runner, write, tmp_path):
    app.config["OUTBOX_DIR"] = str(tmp_path / "outbox")
    write()
    assert "sent 1" in send(runner, "2026-11-30T08:00")
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1 and b"bike-sharing" in files[0].read_bytes()


def test_followups_tab_shows_due_and_upcoming_with_working_actions(app, client, write, login, make_user):
    write(met_at=datetime.utcnow() - timedelta(days=2))
    login(client, write.author)
    page = client.get("/followups").data.decode()
    assert "Bea Builder" in page and "I followed up" in page and "Coming up" in page
    with app.app_context():
        digest = db.session.scalar(sa.select(Prompt).where(Prompt.kind == "digest"))
    assert client.submit(f"/followups/{digest.id}/snooze").status_code == 302
    assert prompts(app, kind="reminder")[0][2] == "pending"
    # someone else cannot act on Ann's prompts
    intruder = login(app.test_client(), make_user())
    assert intruder.submit(f"/followups/{digest.id}/done").status_code == 404
    assert "Bea Builder" not in intruder.get("/followups").data.decode()


def test_settings_turn_emails_off_and_move_the_hour(app, client, write, login):
    write()
    login(client, write.author)
    assert client.submit("/followups", {"prompt_hour": "7"}).status_code == 302
    assert db_user(app, "Ann Author").email_prompts is False
    assert prompts(app, kind="digest")[0][1] == datetime(2026, 11, 30, 6, 0)  # 07:00 Berlin
    assert client.submit("/followups", {"prompt_hour": "99", "email_prompts": "y"}).status_code == 422


def test_empty_followups_say_what_to_do(client, make_user, login):
    login(client, make_user())
    assert "Nothing to follow up right now" in client.get("/followups").data.decode()


def test_healthz_reports_the_workers_last_pass_and_backlog(app, client, write, runner, clock):
    write()
    clock.move_to(datetime(2026, 11, 29, 20, 0, tzinfo=timezone.utc))  # the evening of the day they met
    before = client.get("/healthz").json
    assert before["worker"]["stale"] is True and before["worker"]["last_pass"] is None
    send(runner, "2026-11-29T20:00")
    after = client.get("/healthz").json
    assert after["worker"]["stale"] is False and after["backlog"]["scheduled"] == 3
    clock.move_to(datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc))  # digest and offer check now overdue
    later = client.get("/healthz").json
    assert later["worker"]["stale"] is True and later["backlog"] == {"due_now": 2, "sending": 0, "failed": 0,
                                                                    "scheduled": 1}


def test_status_command(app, runner, write):
    write()
    output = runner.invoke(args=["followups", "status", "--now", "2026-11-29T20:00"]).output
    assert "due now: 0" in output and "scheduled later: 3" in output and "last pass: never" in output
    assert "links in emails point to: http://relbuild.test" in output
    output = runner.invoke(args=["followups", "status", "--now", "2026-12-06T08:00"]).output
    assert "due now: 2" in output and "scheduled later: 1" in output


def test_a_pass_that_sends_nothing_says_when_the_next_prompt_is_due(app, runner, write):
    write()
    output = send(runner, "2026-11-29T20:00")
    assert "sent 0 prompts in 0 emails" in output
    assert "The next prompt is due at 2026-11-30 08:00 UTC" in output and "followups preview" in output


def test_preview_shows_what_goes_out_next_and_how_to_send_it_now(app, runner, write, tmp_path):
    app.config["OUTBOX_DIR"] = str(tmp_path / "outbox")
    write()
    write(name="Cy Coder", offer="")  # the same day: one digest email for both notes
    output = runner.invoke(args=["followups", "preview", "--now", "2026-11-29T20:00"]).output
    lines = output.splitlines()
    assert lines[0] == "2026-11-30 08:00 UTC  digest (2 notes) to ann@example.com (Mon 30 Nov 09:00 Europe/Berlin)"
    command = lines[-1].split("now: ", 1)[1].split()
    assert command[:4] == ["flask", "--app", "app", "followups"]
    assert "sent 2 prompts in 1 email" in send(runner, command[-1])  # the command it prints really sends it
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    assert "Nothing is scheduled" in runner.invoke(args=["followups", "preview", "--now", "2027-01-01"]).output


def test_send_due_takes_a_time_ahead_of_now(app, runner, write, clock, tmp_path):
    app.config["OUTBOX_DIR"] = str(tmp_path / "outbox")
    clock.move_to(MET.replace(tzinfo=timezone.utc))
    write()
    assert "sent 0" in send(runner, "+16h")  # 06:00 Berlin the next morning: not yet
    assert "sent 1 prompt in 1 email" in send(runner, "+2d")
    assert "sent 1 prompt in 1 email" in send(runner, "+7d1h")  # the offer check


def test_emailed_prompts_are_listed_as_arrived_even_when_sent_ahead_of_the_clock(app, client, runner, write,
                                                                                 login, clock):
    write()
    clock.move_to(datetime(2026, 11, 29, 20, 0, tzinfo=timezone.utc))
    login(client, write.author)
    before = client.get("/followups").data.decode()
    assert before.index("Coming up") < before.index("Bea Builder")
    send(runner, "2026-11-30T08:00")  # a pass run by hand with --now: the digest was emailed
    after = client.get("/followups").data.decode()
    assert after.index("Bea Builder") < after.index("Coming up")


def test_bad_now_is_a_clear_error(runner):
    result = runner.invoke(args=["followups", "send-due", "--now", "tomorrow"])
    assert result.exit_code != 0 and "ISO 8601" in result.output


def test_log_follow_up_from_the_person_page(app, client, write, login):
    write()
    login(client, write.author)
    bea = db_user(app, "Bea Builder")
    response = client.submit(f"/people/{bea.public_id}/followed-up", follow_redirects=True)
    assert b"Logged your follow-up with Bea Builder" in response.data and b"Last follow-up" in response.data


def test_write_to_them_comes_first_and_drafts_a_greeting_never_the_offer(app, client, runner, mailbox, write, login):
    """Issue 11: the primary action is writing to them; the draft names when you met and leaves room."""
    from urllib.parse import parse_qs, unquote, urlsplit

    write(share_email=True, offer="Intro her to our accessibility lead")
    assert "sent 1" in send(runner, "2026-11-30T08:00")
    message = mailbox.messages[0]
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    buttons = re.findall(r'<a href="[^"]*" style="[^"]*">([^<]+)</a>', html)
    assert buttons[:3] == ["Write to them", "I followed up", "Remind me in a week"]
    assert "#ffffff" in re.search(r'<a href="mailto:[^"]*" style="([^"]*)"', html).group(1)  # the filled one
    assert text.index("Write to them:") < text.index("I followed up:") < text.index("Remind me in a week:")
    mailto = re.search(r"Write to them:\s+(\S+)", text).group(1)
    parts = urlsplit(mailto)
    draft = parse_qs(parts.query)["body"][0]
    assert unquote(parts.path).endswith("@example.com")
    assert draft.startswith("Hi Bea,\n\nIt was good to meet you on Sunday 29 November.\n\n\n\nBest,\nAnn")
    assert "accessibility lead" not in draft and "As promised" not in draft  # the offer was written to oneself
    # the Follow-ups tab: the same order, the same draft
    login(client, write.author)
    page = client.get("/followups").data.decode()
    assert page.index("Write to Bea") < page.index("I followed up") < page.index("Remind me in a week")
    assert 'class="btn btn-primary btn-block" href="mailto:' in page
