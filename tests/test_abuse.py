"""Abuse of legitimate features (issue 13): each test replays an attack from the review and checks it now fails.

Findings 4 (register and the login lock), 6 (photo bomb), 7 (retired badge), 8 (open redirect), 9 (unverified
addresses), 10 (sessions that never end), 12 (two 500s), and the "also seen" items: the login limit under
`make run`'s two workers without Redis, /healthz details, calendar UIDs. Findings 1-3 and 11 are in test_consent.
"""
from __future__ import annotations

import io
import os
import re
import threading
import time
import urllib.parse
import urllib.request
import uuid
import zlib
from datetime import datetime, timedelta
from struct import pack

import pytest
import sqlalchemy as sa

from relbuild.extensions import db
from relbuild.models import Badge, LoginSession, Prompt, User
from relbuild.services.accounts import load_session_user, start_session
from relbuild.services.badges import qr_png
from relbuild.services.notes import save_note
from tests.conftest import PASSWORD, gunicorn
from tests.test_limits import Browser



def send(runner, now: str | None = None) -> str:
    return runner.invoke(args=["followups", "send-due", *(["--now", now] if now else [])]).output


def link_in(message, path: str) -> str:
    return re.search(rf"http://relbuild\.test({path}\S+)", message.get_body(("plain",)).get_content()).group(1)


# --- a server as `make run` starts it: gunicorn, 2 workers with 4 threads, no Redis -----------------------------

@pytest.fixture(scope="module")
def make_run_server(tmp_path_factory):
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "PROXY_FIX_HOPS")}
    with gunicorn(tmp_path_factory.mktemp("make-run"), {**env, "SECRET_KEY": "make-run-test"},
                  "--workers", "2", "--threads", "4") as server:
        yield server


def new_account(base: str) -> tuple[str, Browser]:
    email = f"victim-{uuid.uuid4().hex[:8]}@example.com"
    owner = Browser(base, "127.0.0.1")
    status, page = owner.post("/register", {"name": "Vic Victim", "email": email, "password": PASSWORD})
    assert status == 200 and "Write a few lines" in page or "profile" in page  # the profile page: signed in
    owner.token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # a new session, a new token
    return email, owner


def test_the_login_limit_holds_across_make_runs_two_workers_and_every_password_path(make_run_server):
    base, _ = make_run_server
    email, owner = new_account(base)
    # 30 wrong guesses, each on a new connection (so spread over both workers): exactly 10 are checked.
    attacker = Browser(base, "127.0.0.1")
    codes = [attacker.post("/login", {"email": email, "password": f"guess number {n}"})[0] for n in range(30)]
    assert codes.count(401) == 10 and codes.count(429) == 20 and codes[:10] == [401] * 10
    # Locked: even the right password is not checked now, on /login ...
    assert attacker.post("/login", {"email": email, "password": PASSWORD})[0] == 429
    # ... and /register with the right password gets no session either (finding 4), locked or not.
    status, page = attacker.post("/register", {"name": "X", "email": email, "password": PASSWORD})
    assert attacker.get("/people")[0] == 200 and "Log in" in attacker.get("/people")[1]  # the login page
    # Re-entering the password for a sensitive change counts against the same allowance.
    status, page = owner.post("/account/email", {"email-email": "other@example.com", "email-password": PASSWORD})
    assert status == 429 and "Too many wrong passwords" in page


def test_register_never_signs_in_an_existing_account(app, client, make_user, login):
    """Finding 4 through the app: the review's 25 guesses on /register after a lockout, then the right one."""
    owner = make_user(email="owner@example.com")
    attacker = app.test_client()
    for n in range(12):
        attacker.submit("/login", {"email": "owner@example.com", "password": f"wrong guess {n}"})
    assert attacker.submit("/login", {"email": "owner@example.com", "password": PASSWORD}).status_code == 429
    for n in range(25):
        answer = attacker.submit("/register", {"name": "X", "email": "owner@example.com",
                                               "password": f"wrong guess {n} x"})
        assert answer.status_code == 302
    assert attacker.submit("/register", {"name": "X", "email": "owner@example.com",
                                         "password": PASSWORD}).status_code == 302
    assert attacker.get("/account").status_code == 302  # no session
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginSession).where(
            LoginSession.user_id == owner.id)) == 0
        attempts = db.session.scalars(sa.select(Prompt.kind).where(Prompt.user_id == owner.id)).all()
    assert attempts == ["signup_attempt"]  # 26 tries, one email to the owner


def test_the_owner_of_a_taken_address_is_told_by_email(app, client, runner, mailbox, make_user):
    make_user(name="Tess Taken", email="tess@example.com")
    client.submit("/register", {"name": "Somebody", "email": "tess@example.com", "password": "another fine phrase"})
    send(runner)
    message = mailbox.to("tess@example.com")[0]
    assert message["Subject"] == "You already have a Relbuild account"
    text = message.get_body(("plain",)).get_content()
    assert "no new one was made" in text and "/password/reset/" in text


# --- finding 6: photo bomb ----------------------------------------------------------------------------------------

def png_header_only_bomb(width: int, height: int) -> bytes:
    """A valid RGB PNG of width x height black pixels: a few hundred KB that decode to width*height*3 bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return pack(">I", len(data)) + kind + data + pack(">I", zlib.crc32(kind + data))

    compressor, row = zlib.compressobj(9), b"\0" * (1 + 3 * width)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def big_photo(fmt: str, width: int, height: int, base: str) -> bytes:
    """A width x height photo (mostly white) with a QR code in it (not a badge, so the page says what it read)."""
    from PIL import Image

    image = Image.new("RGB", (width, height), "white")
    qr = Image.open(io.BytesIO(qr_png("https://example.org/read-from-a-big-photo", scale=40)))
    image.paste(qr.convert("RGB"), (width // 3, height // 3))
    out = io.BytesIO()
    image.save(out, format=fmt, **({"quality": 85} if fmt == "JPEG" else {"compress_level": 1}))
    return out.getvalue()


class PeakMemory:
    """The largest growth of any gunicorn worker's resident memory while the block runs, in MB."""

    def __init__(self, master_pid: int):
        import psutil

        self.workers = psutil.Process(master_pid).children()
        self.peak = 0.0

    def __enter__(self):
        self.base = {w.pid: w.memory_info().rss for w in self.workers}
        self.stop = threading.Event()

        def sample():
            while not self.stop.is_set():
                for worker in self.workers:
                    self.peak = max(self.peak, (worker.memory_info().rss - self.base[worker.pid]) / 2 ** 20)
                time.sleep(0.005)

        self.thread = threading.Thread(target=sample)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        time.sleep(0.05)
        self.stop.set()
        self.thread.join()


def post_photo(base: str, data: bytes, name: str) -> tuple[int, str, float]:
    browser = Browser(base, "127.0.0.1")
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{browser.token}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(base + "/scan/photo", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    started = time.monotonic()
    status, page = browser._open(request)
    return status, page, time.monotonic() - started


PEAK_MB = 200  # the stated bound (README): one photo upload raises a worker's memory by at most this


def test_a_huge_image_is_refused_from_its_header_and_a_real_photo_stays_under_the_memory_bound(make_run_server):
    from relbuild.services.scanning import MAX_PHOTO_PIXELS

    base, process = make_run_server
    post_photo(base, big_photo("PNG", 200, 200, base), "warm-up.png")  # load the decoders once
    bomb = png_header_only_bomb(13_000, 13_000)
    assert len(bomb) < 1_000_000
    with PeakMemory(process.pid) as memory:
        status, page, seconds = post_photo(base, bomb, "bomb.png")
    assert status == 413 and "more than 24 megapixels" in page
    assert memory.peak < 30 and seconds < 2, (memory.peak, seconds)  # the review saw 1.56 GB for 6 s

    # A real photo at the limit (6000 x 4000 = 24 MP) decodes, within the stated bound.
    assert 6000 * 4000 <= MAX_PHOTO_PIXELS
    for fmt in ("PNG", "JPEG"):
        photo = big_photo(fmt, 6000, 4000, base)
        with PeakMemory(process.pid) as memory:
            status, page, _ = post_photo(base, photo, f"photo.{fmt.lower()}")
        assert status == 422 and "It contains: https://example.org/read-from-a-big-photo" in page, page[:500]
        assert memory.peak < PEAK_MB, (fmt, memory.peak)
        print(f"{fmt} 24 MP: peak growth {memory.peak:.0f} MB")

    # Four bombs at once (the review reached 5.4 GB): all refused, memory flat.
    with PeakMemory(process.pid) as memory:
        threads = [threading.Thread(target=post_photo, args=(base, bomb, "bomb.png")) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert memory.peak < 60, memory.peak


# --- finding 7: a retired badge is refused everywhere ----------------------------------------------------------------

def test_a_retired_badge_takes_no_new_note_only_one_met_before_it_was_replaced(app, client, make_user, login):
    owner, stranger = make_user(name="Olive Owner", email="olive@example.com"), make_user(name="Stan Stranger")
    old_token, old_code = owner.token, owner.short_code
    before = (datetime.utcnow() - timedelta(minutes=30)).isoformat() + "Z"
    login(app.test_client(), owner).submit("/badge/replace", {"password": PASSWORD})
    them = login(app.test_client(), stranger)
    token = them.csrf_token()

    def put(**fields):
        return them.put(f"/api/notes/{uuid.uuid4()}", headers={"X-CSRFToken": token},
                        json={"badge": old_token, "body": "Met at the coffee stand, talked about kilns", **fields})

    assert put().status_code == 410 and put().json["error"] == "badge_replaced"
    assert put(met_at=datetime.utcnow().isoformat() + "Z").status_code == 410
    assert them.get(f"/c/{old_token}").status_code == 410
    assert them.submit(f"/c/{old_token}", {"body": "A note through the old link"}).status_code == 410
    assert them.submit("/connect", {"code": old_code}).status_code == 404
    assert b"Stan Stranger" not in login(app.test_client(), owner).get("/people").data
    # A note written offline before the replacement still arrives (a phone that was offline)...
    assert put(met_at=before).status_code == 201
    # ... but not weeks after the replacement, whatever met_at it claims.
    with app.app_context():
        db.session.execute(sa.update(Badge).where(Badge.token == old_token)
                           .values(replaced_at=datetime.utcnow() - timedelta(days=15)))
        db.session.commit()
    other = login(app.test_client(), make_user())
    late = other.put(f"/api/notes/{uuid.uuid4()}", headers={"X-CSRFToken": other.csrf_token()},
                     json={"badge": old_token, "body": "Claims to have met long ago, really",
                           "met_at": (datetime.utcnow() - timedelta(days=20)).isoformat() + "Z"})
    assert late.status_code == 410


# --- finding 8 and 12: redirects stay on this site, and no `next` makes a 500 -------------------------------------

EVIL_NEXTS = ["/\t/evil.example/", "/%09/evil.example/", "//evil.example/", "///evil.example", "/\\evil.example",
              "\\/evil.example", "https://evil.example/", "http:evil.example", "javascript:alert(1)",
              " //evil.example", "/\r\n/evil.example", "/%0d%0aSet-Cookie:%20x=1", "\x00//evil.example",
              "/\u3000/evil.example", "%2F%2Fevil.example", "/%2F/evil.example", "/.//evil.example",
              "/\x7f/evil.example", "//evil.example\\@relbuild.test", "/people?\r\nLocation: https://evil.example"]


def stays_here(location: str) -> bool:
    target = urllib.parse.urljoin("http://relbuild.test/login", location)
    parts = urllib.parse.urlsplit(target)
    return (parts.scheme, parts.netloc) == ("http", "relbuild.test") and not any(c in location for c in "\t\r\n\\")


@pytest.mark.parametrize("target", EVIL_NEXTS)
def test_next_never_leaves_the_site(app, make_user, login, target):
    me = make_user()
    signed_in = login(app.test_client(), me)
    refused = "\x00" in target  # a NUL in a request is refused before any page runs (400, nothing done)
    for path in ("/login", "/register"):
        response = signed_in.get(path, query_string={"next": target})
        if refused:
            assert response.status_code == 400 and "Location" not in response.headers
            continue
        assert response.status_code == 302 and stays_here(response.headers["Location"]), response.headers
    # Signing in with it (the review's 500 after a successful login with CR/LF in next).
    fresh = app.test_client()
    response = fresh.submit("/login", {"email": me.email, "password": PASSWORD, "next": target})
    assert response.status_code == (400 if refused else 302)
    assert refused or stays_here(response.headers["Location"])


def test_a_local_next_is_kept_and_encoded(app, make_user, login):
    signed_in = login(app.test_client(), make_user())
    response = signed_in.get("/login", query_string={"next": "/people?q=Zoë Ł"})
    assert response.headers["Location"] == "/people?q=Zo%C3%AB%20%C5%81"


def test_posting_the_profile_without_values_keeps_working(app, client, make_user, login):
    """Finding 12: POST /profile without `values` once values were saved was an AttributeError."""
    login(client, make_user(values="Curiosity, Craft"))
    response = client.submit("/profile", {"name": "Still Me", "timezone": "UTC"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(User.values).where(User.name == "Still Me")) == ["Curiosity", "Craft"]


# --- finding 9: sign-up confirms the address before any follow-up email ---------------------------------------------

def test_sign_up_confirms_the_address_and_follow_ups_wait_for_it(app, runner, mailbox, make_user):
    bea = make_user(name="Bea Builder")
    newcomer = app.test_client()
    signed_up = newcomer.submit("/register", {"name": "Nina New", "email": "nina@example.com", "password": PASSWORD},
                                follow_redirects=True)
    assert b"We sent an email to nina@example.com" in signed_up.data  # usable at once: the profile page
    assert newcomer.get(f"/c/{bea.token}").status_code == 200
    newcomer.submit(f"/c/{bea.token}", {"body": "Talked about her robotics club and the finals", "offer": ""})
    page = newcomer.get("/followups").data.decode()
    assert "Confirm your email address" in page and "nina@example.com" in page  # the app says how
    assert "sent 1" in send(runner)  # the confirmation itself
    confirmation = mailbox.to("nina@example.com")[0]
    assert confirmation["Subject"] == "Confirm your email address for Relbuild"
    # The next morning's digest is held: the address is not confirmed yet.
    tomorrow = (datetime.utcnow() + timedelta(days=1, hours=12)).strftime("%Y-%m-%dT%H:%M")
    send(runner, tomorrow)
    assert len(mailbox.to("nina@example.com")) == 1
    with app.app_context():
        assert db.session.scalar(sa.select(Prompt.status).where(Prompt.kind == "digest")) == "held"
    link = link_in(confirmation, "/email/confirm/")
    shown = app.test_client().get(link)  # a mail scanner opening the link confirms nothing
    assert shown.status_code == 200 and b"Confirm nina@example.com" in shown.data
    with app.app_context():
        assert db.session.scalar(sa.select(User.email_confirmed_at).where(User.email == "nina@example.com")) is None
    done = app.test_client().submit(link)
    assert done.status_code == 200 and b"is confirmed" in done.data
    assert "Confirm your email address" not in newcomer.get("/followups").data.decode()
    send(runner, tomorrow)
    assert [m["Subject"] for m in mailbox.to("nina@example.com")][1].startswith("Your notes from")


def test_asking_for_the_confirmation_again(app, runner, mailbox):
    newcomer = app.test_client()
    newcomer.submit("/register", {"name": "Rio Resend", "email": "rio@example.com", "password": PASSWORD})
    first = newcomer.submit("/account/email/confirmation", follow_redirects=True)
    assert b"went out a moment ago" in first.data  # the sign-up's own email is still fresh
    with app.app_context():
        db.session.execute(sa.update(Prompt).values(created_at=datetime.utcnow() - timedelta(minutes=3)))
        db.session.commit()
    again = newcomer.submit("/account/email/confirmation", follow_redirects=True)
    assert b"We sent a new link to rio@example.com" in again.data
    send(runner)
    assert len(mailbox.to("rio@example.com")) == 2


# --- finding 10: sessions end, and the account page lists them ------------------------------------------------------

def test_sessions_expire_when_idle_and_at_their_absolute_lifetime(app, make_user):
    me = make_user()
    with app.app_context():
        user = db.session.get(User, me.id)
        fresh, idle, old = (start_session(user).session_id for _ in range(3))
        now = datetime.utcnow()
        db.session.execute(sa.update(LoginSession).where(LoginSession.id == idle)
                           .values(last_seen_at=now - timedelta(days=15)))
        # the review's row backdated to 2025, still being used today
        db.session.execute(sa.update(LoginSession).where(LoginSession.id == old)
                           .values(created_at=datetime(2025, 1, 1), last_seen_at=now))
        db.session.commit()
        assert load_session_user(fresh) is not None
        assert load_session_user(idle) is None and load_session_user(old) is None
        # Used every 13 days, a session still ends 30 days after signing in.
        for days in (13, 26):
            assert load_session_user(fresh, now=now + timedelta(days=days)) is not None
        assert load_session_user(fresh, now=now + timedelta(days=29, hours=23)) is not None
        assert load_session_user(fresh, now=now + timedelta(days=30, minutes=1)) is None
    for session_id in (idle, old):
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = session_id
        assert client.get("/people").status_code == 302


def test_the_account_page_lists_devices_and_signs_one_out(app, make_user, login):
    me, other = make_user(), make_user()
    phone, laptop = app.test_client(), app.test_client()
    phone.environ_base["HTTP_USER_AGENT"] = ("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 "
                                             "Chrome/126.0 Mobile Safari/537.36")
    laptop.environ_base["HTTP_USER_AGENT"] = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
                                              "Version/17.5 Safari/605.1.15")
    login(phone, me), login(laptop, me)
    page = phone.get("/account").data.decode()
    assert "Chrome on Android" in page and "Safari on macOS" in page and "this device" in page
    assert "last used" in page
    laptop_id = re.search(r'data-session="([0-9a-f]{32})">\s*<strong>Safari on macOS', page).group(1)
    # Someone else cannot sign out my laptop by its name.
    login(app.test_client(), other).submit(f"/account/sessions/{laptop_id}/end")
    assert laptop.get("/people").status_code == 200
    assert phone.submit(f"/account/sessions/{laptop_id}/end").status_code == 302
    assert laptop.get("/people").status_code == 302 and phone.get("/people").status_code == 200
    assert "Safari on macOS" not in phone.get("/account").data.decode()


def test_last_seen_is_kept_fresh_without_a_write_on_every_request(app, make_user, login):
    client = login(app.test_client(), make_user())
    with app.app_context():
        db.session.execute(sa.update(LoginSession).values(last_seen_at=datetime.utcnow() - timedelta(hours=1)))
        db.session.commit()
    client.get("/people")
    with app.app_context():
        seen = db.session.scalar(sa.select(LoginSession.last_seen_at))
        assert datetime.utcnow() - seen < timedelta(minutes=1)


# --- also seen: /healthz for the public, calendar UIDs ---------------------------------------------------------------

def test_healthz_tells_the_public_only_ok(app, client):
    public = client.get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert public.status_code == 200 and public.json == {"status": "ok"}
    proxied = client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.5"})  # local proxy, PROXY_FIX_HOPS=0
    assert proxied.json == {"status": "ok"}
    assert "backlog" in client.get("/healthz").json  # from the machine itself
    app.config["HEALTHZ_TOKEN"] = "monitor-secret-123"
    try:
        with_token = client.get("/healthz?token=monitor-secret-123", environ_base={"REMOTE_ADDR": "203.0.113.5"})
        assert "backlog" in with_token.json and "worker" in with_token.json
        bearer = client.get("/healthz", headers={"Authorization": "Bearer monitor-secret-123"},
                            environ_base={"REMOTE_ADDR": "203.0.113.5"})
        assert "backlog" in bearer.json
        wrong = client.get("/healthz?token=guess", environ_base={"REMOTE_ADDR": "203.0.113.5"})
        assert wrong.json == {"status": "ok"}
    finally:
        app.config["HEALTHZ_TOKEN"] = ""


def test_calendar_uids_and_message_ids_do_not_count_prompts(app, runner, mailbox, make_user, login):
    from icalendar import Calendar

    me, bea = make_user(email="me@example.com"), make_user(name="Bea")
    with app.app_context():
        save_note(db.session.get(User, me.id), db.session.get(User, bea.id), "Talked about kilns and glazes",
                  offer="Send the glaze recipe", met_at=datetime.utcnow() - timedelta(hours=1))
        ids = [str(i) for i in db.session.scalars(sa.select(Prompt.id))]
    client = login(app.test_client(), me)
    client.submit("/account/calendar")
    feed = client.get(re.search(r'href="http://relbuild\.test(/calendar/[^"]+\.ics)"',
                                client.get("/account").data.decode()).group(1)).data
    uids = [str(event["uid"]) for event in Calendar.from_ical(feed).walk("VEVENT")]
    assert uids and all(re.fullmatch(r"prompt-[0-9a-f]{32}@relbuild\.test", uid) for uid in uids)
    assert not any(re.search(rf"\D{i}@|-{i}@", uid) for uid in uids for i in ids)
    send(runner, (datetime.utcnow() + timedelta(days=40)).strftime("%Y-%m-%dT%H:%M"))
    for message in mailbox.messages:
        local_part = message["Message-ID"].strip("<>").split("@")[0]
        assert not any(local_part.endswith(f".{i}") for i in ids), message["Message-ID"]


@pytest.mark.parametrize("path, fields, field_id", [
    ("/badge/replace", {"password": PASSWORD}, "password"),
    ("/account/email", {"email-email": "other@example.com", "email-password": PASSWORD}, "email-password"),
    ("/account/password", {"password-current_password": PASSWORD, "password-new_password": "a brand new phrase"},
     "password-current_password"),
    ("/account/delete", {"delete-password": PASSWORD, "delete-confirm": "DELETE"}, "delete-password"),
])
def test_a_used_up_password_allowance_is_explained_next_to_the_password_field(app, make_user, login, path, fields,
                                                                              field_id):
    """Every form that asks for the password again says why it is refused (429), where the person typed it."""
    owner = make_user()
    client = login(app.test_client(), owner)
    for n in range(11):
        app.test_client().submit("/login", {"email": owner.email, "password": f"wrong guess {n}"})
    response = client.submit(path, fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 429
    error = re.search(rf'<p class="error" id="{field_id}-error">([^<]*)</p>', page)
    assert error and "Too many wrong passwords" in error.group(1), page[-3000:]
