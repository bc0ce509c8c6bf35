"""Fixtures: an app on a real database (SQLite file, or PostgreSQL when DATABASE_URL is set)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine
from flask.testing import FlaskClient

from relbuild import create_app
from relbuild.extensions import db, limiter

# Every test starts at this instant (the clock then ticks), never at the machine's date.
# RELBUILD_TEST_NOW moves it; the modules in TWICE also run a second time years later, so a test
# that quietly depends on "today" fails now, not on some future morning.
TEST_NOW = datetime.fromisoformat(os.environ.get("RELBUILD_TEST_NOW", "2026-11-29T16:00:00+00:00"))
YEARS_LATER = datetime.fromisoformat("2033-06-15T05:45:00+00:00")
TWICE = {"test_followups", "test_delivery_workers", "test_notes", "test_api", "test_account", "test_events"}

META_CSRF = re.compile(rb'<meta name="csrf-token" content="([^"]+)"')
PASSWORD = "violet harbour lantern"


class Client(FlaskClient):
    """A test client that fills in the CSRF token the way a browser form would."""

    def csrf_token(self) -> str:
        page = self.get("/scan")
        return META_CSRF.search(page.data).group(1).decode()

    def submit(self, url: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kwargs)


def pytest_generate_tests(metafunc):
    if metafunc.module.__name__.rpartition(".")[2] in TWICE and "clock" in metafunc.fixturenames:
        metafunc.parametrize("clock", [TEST_NOW, YEARS_LATER], ids=["now", "years-later"], indirect=True)


@pytest.fixture(autouse=True)
def clock(request):
    """The test's clock (time-machine): starts at TEST_NOW and ticks; `clock.move_to(...)` travels."""
    with time_machine.travel(getattr(request, "param", TEST_NOW), tick=True) as traveller:
        yield traveller


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def _app(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    os.environ.setdefault("SECRET_KEY", "test-secret-key")
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": _database_url(tmp_path_factory),
        "BASE_URL": "http://relbuild.test",
        "OUTBOX_DIR": str(instance / "outbox"),
    })
    app.test_client_class = Client
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()


@pytest.fixture
def app(_app):
    """The app with empty tables for each test."""
    with _app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(sa.delete(table))
        db.session.commit()
    limiter.reset()
    limiter.enabled = False  # tests that check limits switch them on
    yield _app
    with _app.app_context():
        db.session.remove()


@pytest.fixture
def client(app) -> Client:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    """Create an account through the service, return it (detached but with its id and badge token)."""
    from relbuild.services.accounts import register_user
    from relbuild.services.profiles import update_profile

    counter = iter(range(1, 10_000))

    def make(name: str = "", email: str = "", **profile):
        n = next(counter)
        with app.app_context():
            user = register_user(name or f"Person {n}", email or f"person{n}@example.com", PASSWORD, confirmed=True)
            if profile:
                fields = dict(name=user.name, headline="", values="", can_help_with="", looking_for="",
                              timezone="UTC", share_email=False)
                fields.update(profile)
                update_profile(user, **fields)
            info = {"id": user.id, "public_id": user.public_id, "email": user.email, "name": user.name,
                    "token": user.current_badge.token, "short_code": user.current_badge.short_code}
        return type("U", (), info)

    return make


@pytest.fixture
def login(app):
    """Sign a client in as a user made by make_user."""

    def do(client: Client, user) -> Client:
        response = client.submit("/login", {"email": user.email, "password": PASSWORD})
        assert response.status_code == 302, response.data
        return client

    return do


class Mailbox:
    """A real SMTP server (aiosmtpd) on a free local port that keeps what it accepts."""

    def __init__(self):
        import threading

        self.messages: list = []
        self.refuse: set[str] = set()  # recipients answered with a permanent 550
        self.hold_after: int | None = None  # accept this many messages, then hold the next one
        self.on_accept = None  # called with each message taken, before the client hears "250"
        self.delay = 0.0  # seconds before answering each message (a real provider's pace)
        self.arrivals: list[float] = []  # time.monotonic() at which each message was started (MAIL FROM)
        self.most_at_once = 0  # most messages being answered at the same moment
        self._now_answering = 0
        self.release = threading.Event()
        self.held = threading.Event()
        self.controller = None
        self.port = _free_port()

    # aiosmtpd handler hooks
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        import time

        self.arrivals.append(time.monotonic())
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        import email
        import email.policy

        if self.delay:
            self._now_answering += 1
            self.most_at_once = max(self.most_at_once, self._now_answering)
            await asyncio.sleep(self.delay)
            self._now_answering -= 1
        if self.hold_after is not None and len(self.messages) >= self.hold_after:
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        if self.on_accept is not None:
            self.on_accept(self.messages[-1])
        return "250 Message accepted"

    def start(self):
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


@contextmanager
def gunicorn(folder, env: dict, *options: str):
    """gunicorn serving the app on a free port, from a fresh migrated SQLite database in `folder`.

    `env` is the whole environment (settings included); yields (base URL, the master process).
    """
    root = Path(__file__).resolve().parent.parent
    port = _free_port()
    env = {**env, "DATABASE_URL": f"sqlite:///{folder / 'relbuild.db'}", "BASE_URL": f"http://127.0.0.1:{port}"}
    bin_dir = Path(sys.executable).parent
    subprocess.run([bin_dir / "flask", "--app", "app", "db", "upgrade"], cwd=root, env=env, check=True,
                   capture_output=True)
    process = subprocess.Popen([bin_dir / "gunicorn", *options, "--bind", f"127.0.0.1:{port}", "app:app"],
                               cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            process.kill()
            pytest.fail("gunicorn did not start: " + process.stderr.read().decode()[-2000:])
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mailbox(app):
    """A running SMTP server, with the app configured to send to it."""
    box = Mailbox().start()
    saved = {k: app.config[k] for k in ("SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY")}
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=box.port, SMTP_SECURITY="none")
    yield box
    box.release.set()
    box.stop()
    app.config.update(saved)
