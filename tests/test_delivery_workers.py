"""Several worker processes at once, and a worker killed mid-pass: every prompt delivered exactly once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from relbuild.extensions import db
from relbuild.models import Prompt, User
from relbuild.services.delivery import send_due
from relbuild.services.notes import save_note

ROOT = Path(__file__).resolve().parent.parent
AUTHORS = 300
NOW = "2026-12-01T00:00"


def make_authors(app, count: int) -> None:
    """`count` authors, each with one note (so one digest email each) written the same day."""
    with app.app_context():
        subject = User(email="subject@example.com", password_hash="x", name="Sam Subject", values=[])
        db.session.add(subject)
        db.session.flush()
        for n in range(count):
            author = User(email=f"author{n}@example.com", password_hash="x", name=f"Author {n}", values=[],
                          email_confirmed_at=datetime(2026, 11, 1))
            db.session.add(author)
            db.session.flush()
            save_note(author, subject, f"Note number {n} about Sam's robots", met_at=datetime(2026, 11, 29, 12, 0))
        db.session.commit()


def worker(app, mailbox, **extra_env) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": app.config["SECRET_KEY"],
           "BASE_URL": app.config["BASE_URL"], "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port),
           "SMTP_SECURITY": "none", "FLASK_APP": "app", **extra_env}
    return subprocess.Popen([sys.executable, "-m", "flask", "followups", "send-due", "--now", NOW], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def sent_digests(app) -> int:
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Prompt)
                                  .where(Prompt.kind == "digest", Prompt.status == "sent"))
        db.session.remove()
    return count


def assert_each_delivered_once(app, mailbox) -> None:
    recipients = Counter(m["To"] for m in mailbox.messages)
    assert len(recipients) == AUTHORS and set(recipients.values()) == {1}, recipients.most_common(3)
    assert len({m["Message-ID"] for m in mailbox.messages}) == AUTHORS
    with app.app_context():
        statuses = Counter(db.session.scalars(sa.select(Prompt.status).where(Prompt.kind == "digest")))
    assert statuses == {"sent": AUTHORS}


def test_four_workers_at_once_send_each_prompt_exactly_once(app, mailbox):
    make_authors(app, AUTHORS)
    workers = [worker(app, mailbox) for _ in range(4)]
    outputs = [w.communicate(timeout=240) for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    sent = sum(int(out.split("sent ")[1].split()[0]) for out, _ in outputs)
    assert sent == AUTHORS
    assert_each_delivered_once(app, mailbox)


def test_worker_killed_mid_pass_loses_nothing_and_sends_nothing_twice(app, mailbox):
    make_authors(app, AUTHORS)
    mailbox.hold_after = 40  # accept 40 messages, then keep the worker waiting on the 41st
    first = worker(app, mailbox)
    assert mailbox.held.wait(120), first.communicate(timeout=5)
    # Several connections send at once: the 41st can be held while the answer to the 40th is still on its
    # way back. Kill once the worker has recorded every message the server accepted (it does so as each
    # answer arrives): a kill inside that moment would resend one message, the window the module admits.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sent_digests(app) < 40:
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    mailbox.hold_after = None
    mailbox.release.set()
    with app.app_context():
        statuses = Counter(db.session.scalars(sa.select(Prompt.status).where(Prompt.kind == "digest")))
    assert statuses["sent"] == 40 and statuses["sending"] > 0  # claimed by the dead worker

    time.sleep(1.2)  # let the dead worker's one-second lease run out
    second = worker(app, mailbox, FOLLOWUP_LEASE_SECONDS="1")
    out, err = second.communicate(timeout=240)
    assert second.returncode == 0, err
    assert f"sent {AUTHORS - 40}" in out
    assert_each_delivered_once(app, mailbox)


def test_worker_killed_the_moment_the_server_accepts_resends_at_most_one_message_a_connection(app, mailbox):
    """The window the module admits, hit on purpose: the server has taken the 40th message and the worker dies
    before hearing so; the other connections' messages may be in the same state. The next worker sends
    those again, and only those: no more than SMTP_CONNECTIONS, and nothing is lost."""
    make_authors(app, AUTHORS)
    mailbox.delay = 0.01  # several messages out at once
    workers: list[subprocess.Popen] = []

    def kill_at_40th(message) -> None:
        if len(mailbox.messages) == 40:
            workers[0].send_signal(signal.SIGKILL)

    mailbox.on_accept = kill_at_40th
    workers.append(worker(app, mailbox, SMTP_CONNECTIONS="4"))
    workers[0].wait(120)
    assert workers[0].returncode == -signal.SIGKILL
    mailbox.on_accept = None
    time.sleep(0.5)  # any DATA the server was answering when the worker died has landed
    taken = Counter(m["To"] for m in mailbox.messages)
    recorded = sent_digests(app)
    with app.app_context():
        sent_to = set(db.session.scalars(sa.select(User.email).join(Prompt, Prompt.user_id == User.id)
                                         .where(Prompt.kind == "digest", Prompt.status == "sent")))
    assert sent_to <= set(taken) and len(taken) >= 40  # nothing marked sent that the server did not take
    unrecorded = set(taken) - sent_to  # taken, but the worker died before writing it down
    assert 1 <= len(unrecorded) <= 4, (len(taken), recorded)  # the 40th at least; at most one a connection

    time.sleep(1.2)  # let the dead worker's one-second lease run out
    second = worker(app, mailbox, FOLLOWUP_LEASE_SECONDS="1", SMTP_CONNECTIONS="4")
    out, err = second.communicate(timeout=240)
    assert second.returncode == 0, err
    assert f"sent {AUTHORS - recorded}" in out
    recipients = Counter(m["To"] for m in mailbox.messages)
    assert set(recipients) == {f"author{n}@example.com" for n in range(AUTHORS)}  # nobody lost
    assert {to for to, n in recipients.items() if n > 1} == unrecorded  # sent twice: exactly those
    assert set(recipients.values()) <= {1, 2}
    with app.app_context():
        assert Counter(db.session.scalars(sa.select(Prompt.status).where(Prompt.kind == "digest"))) == {
            "sent": AUTHORS}


def test_four_workers_at_once_push_each_prompt_to_each_device_exactly_once(app, mailbox):
    """Pushes have their own outbox, claimed like prompts: 4 workers, 300 devices, one push each, one email each."""
    import secrets as _secrets

    from relbuild.models import LoginSession, PushDelivery, PushSubscription
    from tests.test_push import Device, PushService

    make_authors(app, AUTHORS)
    service = PushService()
    keys = Device("x").json["keys"]
    try:
        with app.app_context():
            for n, author_id in enumerate(db.session.scalars(sa.select(User.id).where(User.email.like("author%")))):
                session = LoginSession(id=_secrets.token_urlsafe(32), user_id=author_id)
                db.session.add(session)
                db.session.flush()
                db.session.add(PushSubscription(user_id=author_id, session_id=session.id, p256dh=keys["p256dh"],
                                                auth=keys["auth"], endpoint=f"{service.origin}/push/{n}"))
            db.session.commit()
        # The workers run on the machine's clock, the sessions were made on the test's: no sign-in expires here.
        env = {"PUSH_ALLOWED_ORIGINS": service.origin, "SESSION_IDLE_DAYS": "100000", "SESSION_MAX_DAYS": "100000"}
        workers = [worker(app, mailbox, **env) for _ in range(4)]
        outputs = [w.communicate(timeout=240) for w in workers]
        assert all(w.returncode == 0 for w in workers), outputs
    finally:
        service.stop()
    paths = Counter(r["path"] for r in service.received)
    assert len(paths) == AUTHORS and set(paths.values()) == {1}, paths.most_common(3)
    assert_each_delivered_once(app, mailbox)
    with app.app_context():
        assert Counter(db.session.scalars(sa.select(PushDelivery.status))) == {"sent": AUTHORS}


def test_a_pass_keeps_several_connections_busy_at_a_providers_pace(app, mailbox):
    """A provider answering each message in 200 ms: six connections send six at a time, each once."""
    make_authors(app, 36)
    mailbox.delay = 0.2
    app.config.update(SMTP_CONNECTIONS=6)
    with app.app_context():
        started = time.monotonic()
        result = send_due(datetime(2026, 12, 1))
        elapsed = time.monotonic() - started
    assert result.sent == 36 and result.emails == 36
    assert mailbox.most_at_once == 6  # never more than SMTP_CONNECTIONS at once
    assert elapsed < 36 * 0.2 / 2, elapsed  # one connection would take 7.2 s, six 1.2 s plus rendering
    recipients = Counter(m["To"] for m in mailbox.messages)
    assert len(recipients) == 36 and set(recipients.values()) == {1}


def test_smtp_max_per_second_caps_the_pace_across_connections(app, mailbox):
    make_authors(app, 25)
    app.config.update(SMTP_CONNECTIONS=8, SMTP_MAX_PER_SECOND=10)
    with app.app_context():
        result = send_due(datetime(2026, 12, 1))
    assert result.sent == 25 and len(mailbox.messages) == 25
    arrivals = sorted(mailbox.arrivals)
    # Spread evenly, a message every 0.1 s: 25 take 2.4 s at least (the pace), and no second holds a burst. The
    # server sees each message a little after it was started, and on a busy machine one delayed message can land
    # in the same second as the next one on time: one over 10 in a second is that jitter, not a burst.
    assert arrivals[-1] - arrivals[0] >= 2.3
    assert max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals) <= 11
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert sorted(gaps)[len(gaps) // 2] > 0.08  # not bursts of 8 and pauses: most gaps are about 0.1 s
