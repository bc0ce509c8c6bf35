"""Locust users for bench/load_fair.py: attendees at a fair, opening badges and writing notes.

load_fair.py starts `locust --headless -f bench/locust_fair.py` with RELBUILD_FAIR naming a JSON
plan: the attendees (email, badge token), their password, the seconds to measure, the mean think
time, whether the target is the bare baseline app, gunicorn's pid, the PostgreSQL database (if any)
and where to write the results.

Each user is one attendee. It signs in as a browser does (GET /login, POST /login, then GET
/api/csrf as the offline outbox does). The measured window starts when every attendee is signed
in, so the 200 scrypt checks of "doors open" do not blur it. Then, until the window closes, each
attendee has conversations: open someone's badge page (GET /c/<token>), think, save the note,
think. Most conversations are with someone new (the note is created), some revisit a person
(the note is edited). Half the notes go through the HTML form (POST /c/<token>), half through the
offline outbox's PUT /api/notes/<uuid>, and one PUT in ten is sent twice, as a phone does when it
lost the first answer. When the window closes, each attendee finishes its conversation and leaves,
so every write the server took has its answer recorded: the results list the last text each
attendee saved about each person, for load_fair.py to compare with the database.
"""
from __future__ import annotations

import json
import os
import random
import re
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import gevent
from gevent.event import Event
from locust import FastHttpUser, events, task
from locust.exception import StopUser

from _common import cpu_of_command, machine_busy, process_tree_cpu, self_cpu

PLAN = json.loads(Path(os.environ["RELBUILD_FAIR"]).read_text())
ATTENDEES = PLAN["attendees"]
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
REVISIT, API_SHARE, RETRY_SHARE = 0.3, 0.5, 0.1
TOPICS = ("battery recycling", "the robotics club", "a logistics start-up", "their thesis on soil sensors",
          "mentoring junior developers", "a climbing trip", "open data for city buses", "the hiring process")


class Fair:
    """What all attendees share: who has arrived, the measured window, and what was recorded in it."""

    arrived = signed_in = left = 0
    doors_open = Event()
    launched, started, ended = time.perf_counter(), 0.0, 0.0
    cpu_before: dict = {}
    latencies: dict[str, list[float]] = {}  # ms, per request name, inside the window
    errors: list[list[str]] = []  # [request name, message], at any time
    saved: dict[tuple[int, int], tuple[str, str]] = {}  # (author, person) -> the last (body, offer) acknowledged

    @staticmethod
    def cpu() -> dict:
        database = PLAN["postgres_database"]  # only its backends: other work may share the server
        return {"server": process_tree_cpu(PLAN["server_pid"]),
                "postgres": cpu_of_command("postgres", database) if database else 0.0,
                "loadgen": self_cpu(), "machine": machine_busy()}

    @classmethod
    def open_doors(cls) -> None:
        cls.cpu_before, cls.started = cls.cpu(), time.perf_counter()
        cls.doors_open.set()

    @classmethod
    def is_over(cls) -> bool:
        return time.perf_counter() - cls.started >= PLAN["seconds"]

    @classmethod
    def close(cls, runner) -> None:
        """The last attendee left: write the results and stop locust."""
        cls.ended = time.perf_counter()
        before, after = cls.cpu_before, cls.cpu()
        server = {pid: used - before["server"].get(pid, 0.0) for pid, used in after["server"].items()}
        Path(PLAN["results"]).write_text(json.dumps({
            "seconds": cls.ended - cls.started,
            "sign_in_seconds": cls.started - cls.launched,
            "latencies_ms": cls.latencies,
            "errors": cls.errors,
            "saved": [[author, person, body, offer] for (author, person), (body, offer) in cls.saved.items()],
            "cpu_seconds": {"server": sum(server.values()),
                            "workers": sorted((s for pid, s in server.items() if pid != PLAN["server_pid"]),
                                              reverse=True),
                            **{k: after[k] - before[k] for k in ("postgres", "loadgen", "machine")}},
        }))
        gevent.spawn(runner.quit)


@events.request.add_listener
def record(name, response_time, exception, **_kw) -> None:
    if exception is not None:
        Fair.errors.append([name, f"{exception.__class__.__name__}: {exception}"[:300]])
    elif Fair.started and not Fair.ended:
        Fair.latencies.setdefault(name, []).append(response_time)


class Attendee(FastHttpUser):
    # Timeouts well above any queueing the run should see: a slow answer is measured, not dropped.
    network_timeout = connection_timeout = 60.0

    def on_start(self) -> None:
        self.me = Fair.arrived
        Fair.arrived += 1
        self.noted: list[int] = []
        self.conversations = 0
        try:
            self.sign_in(ATTENDEES[self.me][0])
        finally:
            Fair.signed_in += 1
            if Fair.signed_in == len(ATTENDEES):
                Fair.open_doors()
        Fair.doors_open.wait()
        # Spread out like a fair in progress: 200 badge pages in the same instant would measure the herd.
        gevent.sleep(random.uniform(0, 2 * PLAN["think"]))

    def sign_in(self, email: str) -> None:
        page = self.client.get("/login", name="sign-in: GET /login")
        form = {"email": email, "password": PLAN["password"], "csrf_token": self.csrf_in(page)}
        with self.client.post("/login", name="sign-in: POST /login", data=form, allow_redirects=False,
                              catch_response=True) as answer:
            if not PLAN["bare"] and (answer.status_code != 302 or "/login" in answer.headers.get("Location", "")):
                answer.failure(f"sign-in refused: HTTP {answer.status_code}")
        answer = self.client.get("/api/csrf", name="sign-in: GET /api/csrf")
        self.csrf = "bare" if PLAN["bare"] else answer.json()["token"]

    @staticmethod
    def csrf_in(page) -> str:
        found = META_CSRF.search(page.text or "")
        return found.group(1) if found else "bare"

    def think(self) -> None:
        gevent.sleep(random.uniform(0.5, 1.5) * PLAN["think"])

    @task
    def conversation(self) -> None:
        if Fair.is_over():
            self.leave()
        person = self.choose_person()
        token = ATTENDEES[person][1]
        self.client.get(f"/c/{token}", name="GET /c/<token>")
        self.think()
        self.conversations += 1
        topic = TOPICS[(self.me + self.conversations) % len(TOPICS)]
        body = f"We talked about {topic}; they asked how we test migrations (conversation {self.conversations})."
        offer = f"Send them our write-up on {topic}" if self.conversations % 3 else ""
        ok = self.put_note(token, body, offer) if random.random() < API_SHARE else self.post_note(token, body, offer)
        if ok:
            Fair.saved[(self.me, person)] = (body, offer)
            if person not in self.noted:
                self.noted.append(person)
        self.think()

    def choose_person(self) -> int:
        if self.noted and (random.random() < REVISIT or len(self.noted) == len(ATTENDEES) - 1):
            return random.choice(self.noted)
        while True:
            person = random.randrange(len(ATTENDEES))
            if person != self.me and person not in self.noted:
                return person

    def post_note(self, token: str, body: str, offer: str) -> bool:
        with self.client.post(f"/c/{token}", name="POST /c/<token>", allow_redirects=False, catch_response=True,
                              data={"body": body, "offer": offer, "csrf_token": self.csrf}) as answer:
            back_here = PLAN["bare"] or answer.headers.get("Location", "").split("?")[0].endswith(f"/c/{token}")
            if answer.status_code != (200 if PLAN["bare"] else 302) or not back_here:
                answer.failure(f"HTTP {answer.status_code} {answer.headers.get('Location', '')}")
                return False
        return True

    def put_note(self, token: str, body: str, offer: str) -> bool:
        write_id = str(uuid.uuid4())
        met_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        payload = {"badge": token, "body": body, "offer": offer, "met_at": met_at}
        sends = 2 if random.random() < RETRY_SHARE else 1
        for send in range(sends):
            name = "PUT /api/notes/<uuid>" + (" (retry)" if send else "")
            with self.client.put(f"/api/notes/{write_id}", name=name, json=payload, catch_response=True,
                                 headers={"X-CSRFToken": self.csrf}) as answer:
                if answer.status_code not in (200, 201):
                    answer.failure(f"HTTP {answer.status_code} {(answer.text or '')[:200]}")
                    return False
        return True

    def leave(self) -> None:
        Fair.left += 1
        if Fair.left == len(ATTENDEES):
            Fair.close(self.environment.runner)
        raise StopUser()
