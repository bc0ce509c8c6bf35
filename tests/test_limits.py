"""Abuse limits as production runs them: gunicorn with several workers behind a proxy, limits in Redis."""
from __future__ import annotations

import http.cookiejar
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from relbuild.extensions import limiter
from tests.conftest import gunicorn

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def _redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    return client


class Browser:
    """Just enough of a browser: cookies, the CSRF token from the page, and a client address set by the proxy."""

    def __init__(self, base: str, address: str):
        self.base, self.address = base, address
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.token = re.search(r'name="csrf-token" content="([^"]+)"', self.get("/login")[1]).group(1)

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        request.add_header("X-Forwarded-For", self.address)
        request.add_header("X-Forwarded-Proto", "http")
        try:
            with self.opener.open(request) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, data: dict) -> tuple[int, str]:
        body = urllib.parse.urlencode({"csrf_token": self.token, **data}).encode()
        return self._open(urllib.request.Request(self.base + path, data=body, method="POST"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn with 2 worker processes behind one proxy hop, limits shared through Redis."""
    store = _redis()
    store.flushdb()
    env = {**os.environ, "REDIS_URL": REDIS_URL, "PROXY_FIX_HOPS": "1", "SECRET_KEY": "limits-test"}
    with gunicorn(tmp_path_factory.mktemp("limits"), env, "--workers", "2") as (base, _):
        yield base, store
    store.flushdb()


def test_login_limit_per_email_holds_across_workers_and_addresses(server):
    base, store = server
    email = f"target-{uuid.uuid4().hex[:8]}@example.com"
    attacker = Browser(base, "203.0.113.7")
    codes = [attacker.post("/login", {"email": email, "password": f"guess number {i}"})[0] for i in range(10)]
    assert codes == [401] * 10
    status, page = attacker.post("/login", {"email": email, "password": "one more guess"})
    assert status == 429 and "Slow down a little" in page
    # Another address, another connection (so possibly the other worker): the account is still protected.
    assert Browser(base, "198.51.100.23").post("/login", {"email": email, "password": "x" * 12})[0] == 429
    assert any(key.startswith(b"LIMITS") for key in store.scan_iter())  # per-address counts live in Redis


def test_per_address_limit_uses_the_real_client_address_behind_the_proxy(server):
    base, _ = server
    venue = Browser(base, "192.0.2.44")
    codes = [venue.post("/connect", {"code": "ZZZZ-ZZZZ"})[0] for _ in range(61)]
    assert codes[:60] == [404] * 60 and codes[60] == 429
    # A different client address (as the proxy reports it) has its own allowance.
    assert Browser(base, "192.0.2.45").post("/connect", {"code": "ZZZZ-ZZZZ"})[0] == 404


def test_the_note_api_answers_a_limit_in_json(app, client, make_user, login):
    login(client, make_user())
    token = client.csrf_token()
    limiter.enabled = True
    for _ in range(120):
        client.put(f"/api/notes/{uuid.uuid4()}", json={}, headers={"X-CSRFToken": token})
    response = client.put(f"/api/notes/{uuid.uuid4()}", json={}, headers={"X-CSRFToken": token})
    assert response.status_code == 429
    assert response.json["error"] == "http_429" and response.json["message"]


def test_signed_in_people_behind_one_venue_address_each_have_their_own_allowance(app, make_user, login):
    person, first, second = make_user(), make_user(), make_user()
    one, two = login(app.test_client(), first), login(app.test_client(), second)  # the same address
    limiter.enabled = True
    codes = [one.get(f"/c/{person.token}").status_code for _ in range(121)]
    assert codes[:120] == [200] * 120 and codes[120] == 429
    assert two.get(f"/c/{person.token}").status_code == 200
    assert app.test_client().get(f"/c/{person.token}").status_code == 200  # visitors count by address
