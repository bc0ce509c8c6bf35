"""Web Push: the subscription API, the SSRF guard, and prompts pushed by the worker to a push service in the test.

The push service is a small HTTP server on 127.0.0.1 (allowed through PUSH_ALLOWED_ORIGINS, as a
private deployment would). The test plays the browser: it holds the subscription's P-256 private key
and auth secret, decrypts each push with http_ece (aes128gcm, RFC 8291) and checks the VAPID
Authorization header (RFC 8292) the way a push service does.
"""
from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from relbuild.extensions import db
from relbuild.models import LoginSession, Prompt, PushDelivery, PushSubscription, User
from relbuild.services.links import read_action_token

NOTE = "Builds bike-sharing apps; asked how to recruit riders for user tests."
OFFER = "Send her the UX meetup link"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService:
    """A push service on a free local port: keeps every POST, answers with the next queued status (201)."""

    def __init__(self):
        self.received: list[dict] = []
        self.answers: dict[str, list[int]] = {}
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 -- the http.server hook
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                service.received.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                queued = service.answers.get(self.path) or [201]
                status = queued.pop(0) if len(queued) > 1 else queued[0]
                self.send_response(status)
                if 300 <= status < 400:  # somewhere the endpoint check never saw
                    self.send_header("Location", service.origin + "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def to(self, path: str) -> list[dict]:
        return [r for r in self.received if r["path"] == path]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Device:
    """A browser's push subscription: the keys only the browser holds, and what toJSON() gives the server."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        point = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        self.json = {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": b64url(point),
                                                                           "auth": b64url(self.auth)}}

    def read(self, request: dict) -> dict:
        """Decrypt one received push (RFC 8291, aes128gcm) and parse its JSON."""
        assert request["headers"]["content-encoding"] == "aes128gcm"
        plain = http_ece.decrypt(request["body"], private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        return json.loads(plain)


@pytest.fixture
def push_service(app):
    service = PushService()
    saved = app.config["PUSH_ALLOWED_ORIGINS"]
    app.config["PUSH_ALLOWED_ORIGINS"] = (service.origin,)
    yield service
    app.config["PUSH_ALLOWED_ORIGINS"] = saved
    service.stop()


@pytest.fixture
def author(app, client, make_user, login):
    """Ann, signed in on `client`, with a note about Bea (share_email) whose digest is due at `author.due`."""
    from relbuild.services.notes import save_note

    ann = make_user(name="Ann Author", email="ann@example.com")
    bea = make_user(name="Bea Builder", email="bea@example.com", share_email=True)
    with app.app_context():
        note, _ = save_note(db.session.get(User, ann.id), db.session.get(User, bea.id), NOTE, OFFER,
                            met_at=datetime.utcnow() - timedelta(hours=1))
        ann.due = db.session.scalar(sa.select(Prompt.due_at).where(Prompt.note_id == note.id,
                                                                   Prompt.kind == "digest"))
    login(client, ann)
    return ann


def api(client, method: str, url: str, body=None):
    token = client.get("/api/csrf").json["token"]
    return client.open(url, method=method, json=body, headers={"X-CSRFToken": token})


def subscribe(client, device: Device):
    response = api(client, "POST", "/api/push/subscriptions", device.json)
    assert response.status_code == 201, response.json
    return response


def send(runner, now: datetime) -> str:
    result = runner.invoke(args=["followups", "send-due", "--now", now.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def rows(app, model, **filters):
    with app.app_context():
        return list(db.session.scalars(sa.select(model).filter_by(**filters)))


def set_channel(app, user, channel: str) -> None:
    with app.app_context():
        db.session.get(User, user.id).prompt_channel = channel
        db.session.commit()


# ------------------------------------------------------------------------------------------------
# The API


def test_vapid_key_subscribe_and_unsubscribe(app, client, author, push_service):
    key = client.get("/api/push/vapid-public-key")
    assert key.status_code == 200 and key.is_json
    point = unb64url(key.json["key"])
    assert len(point) == 65 and point[0] == 4  # an uncompressed P-256 point, as applicationServerKey wants
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)

    device = Device(push_service.origin + "/push/ann-phone")
    assert subscribe(client, device).json["endpoint"] == device.endpoint
    assert subscribe(client, device).status_code == 201  # the browser sends it again: still one row
    [kept] = rows(app, PushSubscription)
    assert kept.user_id == author.id and kept.endpoint == device.endpoint
    assert client.get("/followups").data.count(b"Notifications are on for this phone") == 1

    gone = api(client, "DELETE", "/api/push/subscriptions", {"endpoint": device.endpoint})
    assert gone.status_code == 204 and gone.data == b""
    assert rows(app, PushSubscription) == []
    assert b"Notifications are off for this phone" in client.get("/followups").data


def test_the_api_needs_a_sign_in_and_the_csrf_token(app, client, make_user, push_service):
    device = Device(push_service.origin + "/push/x")
    assert client.get("/api/push/vapid-public-key").status_code == 401
    refused = api(client, "POST", "/api/push/subscriptions", device.json)
    assert refused.status_code == 401 and refused.json["error"] == "not_signed_in"
    from tests.conftest import PASSWORD

    user = make_user()
    client.submit("/login", {"email": user.email, "password": PASSWORD})
    no_token = client.post("/api/push/subscriptions", json=device.json)
    assert no_token.status_code == 400
    assert rows(app, PushSubscription) == []


@pytest.mark.parametrize("endpoint", [
    "https://evil.example/push",  # not a push service
    "http://fcm.googleapis.com/fcm/send/abc",  # a push service, but not over https
    "https://fcm.googleapis.com.evil.example/fcm/send/abc",
    "https://fcm.googleapis.com:8443/fcm/send/abc",
    "https://user@fcm.googleapis.com/fcm/send/abc",
    "https://notify.windows.com/w/?token=abc",  # only its subdomains are WNS
    "http://127.0.0.1:6379/",  # the Redis next door
    "http://169.254.169.254/latest/meta-data/",  # a cloud metadata service
    "http://localhost:5432/",
    "file:///etc/passwd",
    "https://fcm.googleapis.com/fcm/send/a b",
    "https://fcm.googleapis.com/" + "x" * 1000,
])
def test_endpoints_outside_the_push_services_are_refused(app, client, author, endpoint):
    refused = api(client, "POST", "/api/push/subscriptions", {**Device("x").json, "endpoint": endpoint})
    assert refused.status_code == 422 and refused.json["error"] == "endpoint_not_allowed"
    assert rows(app, PushSubscription) == []


@pytest.mark.parametrize("endpoint", [
    "https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91bH",
    "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABf",
    "https://web.push.apple.com/QGcFh2eTdj",
    "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAD",
])
def test_the_known_push_services_are_accepted(app, client, author, endpoint):
    assert subscribe(client, Device(endpoint)).status_code == 201


def test_an_allowed_origin_is_an_exact_origin(app, client, author, push_service):
    other_port = push_service.origin.rsplit(":", 1)[0] + ":1"
    for endpoint in (other_port + "/push", push_service.origin.replace("http:", "https:") + "/push"):
        assert api(client, "POST", "/api/push/subscriptions", Device(endpoint).json).status_code == 422


@pytest.mark.parametrize("keys", [
    {"p256dh": "AAAA", "auth": b64url(os.urandom(16))},
    {"p256dh": b64url(b"\x04" + os.urandom(64)), "auth": b64url(os.urandom(16))},  # not a point on the curve
    {"p256dh": None, "auth": None},
    {"auth": b64url(os.urandom(16))},
])
def test_keys_that_cannot_encrypt_are_refused(app, client, author, push_service, keys):
    body = {**Device(push_service.origin + "/p").json, "keys": keys}
    refused = api(client, "POST", "/api/push/subscriptions", body)
    assert refused.status_code == 422 and refused.json["error"] in ("bad_keys", "bad_subscription")
    assert rows(app, PushSubscription) == []


def test_signing_out_removes_this_devices_subscription(app, client, author, push_service, make_user, login):
    subscribe(client, Device(push_service.origin + "/push/ann-phone"))
    assert len(rows(app, PushSubscription)) == 1
    client.submit("/logout")
    assert rows(app, PushSubscription) == []


def test_another_account_signing_in_takes_the_browser_over(app, client, author, push_service, make_user, login):
    device = Device(push_service.origin + "/push/shared-phone")
    subscribe(client, device)
    client.submit("/logout")
    cy = make_user(name="Cy Coder")
    login(client, cy)
    subscribe(client, device)
    [kept] = rows(app, PushSubscription)
    assert kept.user_id == cy.id  # Ann's prompts never reach Cy's phone


# ------------------------------------------------------------------------------------------------
# The worker


def check_vapid(request: dict, origin: str, public_key: str, now: float) -> dict:
    """The Authorization header a push service checks: `vapid t=<JWT>, k=<key>` signed with ES256."""
    scheme, _, params = request["headers"]["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == public_key
    header, claims, signature = fields["t"].split(".")
    assert json.loads(unb64url(header)) == {"typ": "JWT", "alg": "ES256"}
    claims = json.loads(unb64url(claims))
    raw = unb64url(signature)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key))
    key.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
               f"{header}.{fields['t'].split('.')[1]}".encode(), ec.ECDSA(hashes.SHA256()))
    assert claims["aud"] == origin
    assert now < claims["exp"] <= now + 24 * 3600
    assert claims["sub"].startswith(("mailto:", "https:"))
    return claims


def test_a_due_prompt_is_pushed_encrypted_and_signed_and_emailed(app, client, runner, mailbox, author, push_service):
    device = Device(push_service.origin + "/push/ann-phone")
    subscribe(client, device)
    public_key = client.get("/api/push/vapid-public-key").json["key"]

    output = send(runner, author.due)
    assert "pushed 1 notification" in output
    [request] = push_service.to("/push/ann-phone")
    assert int(request["headers"]["ttl"]) > 0
    check_vapid(request, push_service.origin, public_key, time.time())
    message = device.read(request)
    assert message["title"] == "Bea Builder"
    line, context = message["body"].split("\n")
    assert line == f"You offered: {OFFER}"
    assert NOTE in context
    assert message["url"] == "http://relbuild.test/followups"
    write, snooze = message["actions"]
    assert (write["action"], write["title"]) == ("write", "Write to them")
    assert write["url"].startswith("mailto:bea%40example.com?subject=")  # the same draft as the email's link
    assert (snooze["action"], snooze["title"]) == ("snooze", "Remind me in a week")
    token = snooze["url"].rsplit("/f/", 1)[1]
    with app.app_context():
        prompt_id, action = read_action_token(token)
        assert action == "snooze" and db.session.get(Prompt, prompt_id).note.body == NOTE

    assert len(mailbox.to("ann@example.com")) == 1  # and by email, as before
    assert "pushed" not in send(runner, author.due + timedelta(minutes=5))  # never twice
    assert len(push_service.received) == 1 and len(mailbox.messages) == 1


def test_every_signed_in_device_gets_it(app, client, runner, mailbox, author, push_service, login):
    subscribe(client, Device(push_service.origin + "/push/phone"))
    tablet = app.test_client()
    login(tablet, author)
    subscribe(tablet, Device(push_service.origin + "/push/tablet"))
    send(runner, author.due)
    assert sorted(r["path"] for r in push_service.received) == ["/push/phone", "/push/tablet"]


def test_push_only_sends_no_email_and_email_only_no_push(app, client, runner, mailbox, author, push_service):
    subscribe(client, Device(push_service.origin + "/push/ann-phone"))
    set_channel(app, author, "push")
    output = send(runner, author.due)
    assert "sent 1 prompt in 0 emails" in output
    assert len(push_service.received) == 1 and mailbox.messages == []
    assert [p.status for p in rows(app, Prompt, kind="digest")] == ["sent"]

    later = author.due + timedelta(days=6, hours=23)  # the offer check, a week after meeting
    set_channel(app, author, "email")
    send(runner, later)
    assert len(push_service.received) == 1 and len(mailbox.messages) == 1


def test_push_only_without_a_device_falls_back_to_email(app, client, runner, mailbox, author):
    set_channel(app, author, "push")
    send(runner, author.due)
    assert len(mailbox.to("ann@example.com")) == 1


def test_the_channel_is_chosen_on_the_followups_page(app, client, author):
    page = client.get("/followups").get_data(as_text=True)
    assert "Turn on notifications" in page
    assert re.search(r'<input checked [^>]*value="both"', page)  # email and notifications, until chosen otherwise
    assert client.submit("/followups", {"email_prompts": "y", "prompt_hour": "9",
                                        "prompt_channel": "push"}).status_code == 302
    assert rows(app, User, id=author.id)[0].prompt_channel == "push"
    assert client.submit("/followups", {"prompt_hour": "9", "prompt_channel": "fax"}).status_code == 422
    assert client.submit("/followups", {"prompt_hour": "8"}).status_code == 302  # missing: kept
    assert rows(app, User, id=author.id)[0].prompt_channel == "push"


@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_device_is_removed_and_the_email_still_goes(app, client, runner, mailbox, author, push_service,
                                                           status):
    subscribe(client, Device(push_service.origin + "/push/old-phone"))
    push_service.answers["/push/old-phone"] = [status]
    output = send(runner, author.due)
    assert "1 devices gone" in output
    assert rows(app, PushSubscription) == [] and rows(app, PushDelivery) == []
    assert len(mailbox.to("ann@example.com")) == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_busy_push_service_is_retried_with_the_smtp_backoff(app, client, runner, mailbox, author, push_service,
                                                             status):
    subscribe(client, Device(push_service.origin + "/push/ann-phone"))
    push_service.answers["/push/ann-phone"] = [status, status, 201]
    assert "1 retrying" in send(runner, author.due)
    [delivery] = rows(app, PushDelivery)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.next_attempt_at == author.due + timedelta(seconds=60)  # as SMTP: 1 min, 2, 4 … up to 1 h
    assert len(mailbox.messages) == 1  # the email did not wait

    assert "pushed" not in send(runner, author.due + timedelta(seconds=30))  # not before its time
    assert "1 retrying" in send(runner, author.due + timedelta(seconds=60))
    [delivery] = rows(app, PushDelivery)
    assert delivery.next_attempt_at == author.due + timedelta(seconds=60 + 120)
    assert "pushed 1 notification" in send(runner, author.due + timedelta(seconds=180))
    assert [d.status for d in rows(app, PushDelivery)] == ["sent"]
    assert len(push_service.received) == 3 and len(mailbox.messages) == 1


def test_an_unreachable_push_service_is_retried(app, client, runner, mailbox, author, push_service):
    subscribe(client, Device(push_service.origin + "/push/ann-phone"))
    push_service.stop()
    assert "1 retrying" in send(runner, author.due)
    assert len(mailbox.messages) == 1


def test_a_prompt_acted_on_before_its_retry_is_not_pushed(app, client, runner, mailbox, author, push_service):
    subscribe(client, Device(push_service.origin + "/push/ann-phone"))
    push_service.answers["/push/ann-phone"] = [503, 201]
    send(runner, author.due)
    [digest] = rows(app, Prompt, kind="digest")
    assert client.submit(f"/followups/{digest.id}/snooze").status_code == 302
    send(runner, author.due + timedelta(minutes=5))
    assert len(push_service.received) == 1
    assert [d.status for d in rows(app, PushDelivery)] == ["skipped"]


def test_an_expired_sign_in_gets_no_push(app, client, runner, mailbox, author, push_service, clock):
    subscribe(client, Device(push_service.origin + "/push/ann-phone"))
    clock.move_to(datetime.utcnow() + timedelta(days=15))  # SESSION_IDLE_DAYS (14) without using it
    send(runner, author.due)
    assert push_service.received == [] and rows(app, PushSubscription) == []
    assert len(mailbox.messages) == 1


def test_ending_the_session_from_another_device_removes_the_subscription(app, client, author, push_service,
                                                                         login):
    subscribe(client, Device(push_service.origin + "/push/lost-phone"))
    with app.app_context():
        lost = db.session.scalar(sa.select(LoginSession.public_id).where(LoginSession.user_id == author.id))
    laptop = app.test_client()
    login(laptop, author)
    assert laptop.submit(f"/account/sessions/{lost}/end").status_code == 302
    assert rows(app, PushSubscription) == []


# ------------------------------------------------------------------------------------------------
# Settings


def test_vapid_key_is_made_once_or_taken_from_the_environment(app, tmp_path, monkeypatch):
    from relbuild.config import from_environment
    from relbuild.services.push import public_key

    for name in ("VAPID_PRIVATE_KEY", "VAPID_SUBJECT", "PUSH_ALLOWED_ORIGINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAIL_FROM", "Relbuild <hello@fair.example>")
    first = from_environment(tmp_path)
    assert (tmp_path / "vapid_private_key.pem").stat().st_mode & 0o777 == 0o600
    assert from_environment(tmp_path)["VAPID_PRIVATE_KEY"] == first["VAPID_PRIVATE_KEY"]  # kept, not remade
    assert first["VAPID_SUBJECT"] == "mailto:hello@fair.example" and first["PUSH_ALLOWED_ORIGINS"] == ()

    key = ec.generate_private_key(ec.SECP256R1())
    raw = b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    expected = b64url(key.public_key().public_bytes(serialization.Encoding.X962,
                                                    serialization.PublicFormat.UncompressedPoint))
    for value in (raw, pem, pem.replace("\n", "\\n")):  # base64url, PEM, PEM on one .env line
        monkeypatch.setenv("VAPID_PRIVATE_KEY", value)
        monkeypatch.setenv("VAPID_SUBJECT", "https://fair.example/contact")
        monkeypatch.setenv("PUSH_ALLOWED_ORIGINS", "http://127.0.0.1:8765/, https://Push.Example.org")
        settings = from_environment(tmp_path)
        assert settings["VAPID_SUBJECT"] == "https://fair.example/contact"
        assert settings["PUSH_ALLOWED_ORIGINS"] == ("http://127.0.0.1:8765", "https://push.example.org")
        saved = app.config["VAPID_PRIVATE_KEY"]
        app.config["VAPID_PRIVATE_KEY"] = settings["VAPID_PRIVATE_KEY"]
        try:
            with app.app_context():
                assert public_key() == expected
        finally:
            app.config["VAPID_PRIVATE_KEY"] = saved


def test_a_redirecting_push_service_is_not_followed(app, client, runner, mailbox, author, push_service):
    subscribe(client, Device(push_service.origin + "/push/ann-phone"))
    push_service.answers["/push/ann-phone"] = [307]
    assert "1 failed" in send(runner, author.due)
    assert [r["path"] for r in push_service.received] == ["/push/ann-phone"]  # nothing sent where it pointed


@pytest.mark.parametrize("status", [410, 400])
def test_push_only_whose_push_can_never_arrive_is_emailed_after_all(app, client, runner, mailbox, author,
                                                                    push_service, status):
    subscribe(client, Device(push_service.origin + "/push/dead-phone"))
    push_service.answers["/push/dead-phone"] = [status]
    set_channel(app, author, "push")
    send(runner, author.due)
    assert len(push_service.received) == 1 and mailbox.messages == []
    send(runner, author.due + timedelta(seconds=30))  # the next pass
    assert len(mailbox.to("ann@example.com")) == 1
    assert [p.status for p in rows(app, Prompt, kind="digest")] == ["sent"]
    send(runner, author.due + timedelta(minutes=5))
    assert len(push_service.received) == 1 and len(mailbox.messages) == 1  # once each, nothing more


def test_a_notification_is_in_its_recipients_language(app, client, runner, mailbox, author, push_service):
    """Ann reads French: the notification's words are French, whatever language the worker runs in."""
    with app.app_context():
        db.session.get(User, author.id).language = "fr"
        db.session.commit()
    device = Device(push_service.origin + "/push/ann-phone")
    subscribe(client, device)
    send(runner, author.due)
    [request] = push_service.to("/push/ann-phone")
    message = device.read(request)
    line, context = message["body"].split("\n")
    assert line == f"Votre proposition\u00a0: {OFFER}"
    assert context.startswith("Rencontre le ") and NOTE in context
    assert [a["title"] for a in message["actions"]] == ["Lui écrire", "Me le rappeler dans une semaine"]
    assert message["snoozed"] == "Nous vous le rappellerons dans une semaine."
    assert "subject=Ravi%C2%B7e%20de%20vous%20avoir%20rencontr%C3%A9%C2%B7e" in message["actions"][0]["url"]
