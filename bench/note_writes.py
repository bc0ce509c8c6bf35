"""Benchmark: writing notes over HTTP, against a floor endpoint and bare Flask on the same server.

Budget (ENGINEERING.md): writing a note has p95 <= 50 ms on SQLite at 16 concurrent clients on
a 2-core machine, and throughput at least half of a *floor* endpoint (bench/floor_app.py: the least
code doing the same essential work) on the same server under the same load; bare Flask beside it.

What it does:

1. Makes a scratch database (a SQLite file in a temporary folder or, with --database-url, a new
   PostgreSQL database of that name, dropped afterwards) and runs `flask --app app db upgrade`.
2. Creates the signed-in authors (one per client, one password hash shared by all so set-up is
   quick) and a pool of people to write about, each with a badge.
3. Serves the app as `make run` does: gunicorn from the venv, `--workers 2 --threads 4`, on a free
   127.0.0.1 port (bench/note_wsgi.py: app.py with rate limits off, since every client is 127.0.0.1).
4. Signs each client in through /login and takes the CSRF token from `<meta name="csrf-token">`.
5. Each client uses a keep-alive connection (renewed every 50 requests) and POSTs `body`,
   `offer` and `csrf_token` to /c/<token>, walking the pool of people from its own starting
   point: every other request is about someone new (the note is created), the others revisit
   someone met earlier (the note is edited), and the offer is switched on and off so the
   offer-check prompt is scheduled and cancelled too. A request counts as done when the full
   302 response is read; anything else (other status, a redirect to /login) is an error. The
   session cookie from sign-in is sent unchanged each time (a browser would follow the redirect
   and show the "saved" flash; without that, flashes would pile up in the cookie).
6. Sends exactly the same requests (same cookies, CSRF tokens, sequence), with the same gunicorn
   settings and concurrency, to bench/floor_app.py on a copy of the database as it was before the
   app's run (the app's server is restarted after sign-in so nothing is connected while it is copied;
   signed session -> session row -> user, CSRF check, badge lookup, note upsert, digest
   prompt on create, commit, 302), then to bench/bare_app.py (one route returning "ok").
   The app's throughput and p95 are reported as a ratio of the floor's.

The load generator is one asyncio event loop on raw sockets, cheap enough not to be the limit
on 2 cores; its CPU use, the server's and that of any other process on the machine are printed
so that can be checked (other load makes the numbers worse: run it on a quiet machine).

Run it from the project folder:

    .venv/bin/python bench/note_writes.py            # 20 s per target after a 3 s warm-up
    .venv/bin/python bench/note_writes.py --quick    # a smoke run of a few seconds
    .venv/bin/python bench/note_writes.py --workers 4 --threads 4 --duration 30
    .venv/bin/python bench/note_writes.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/relbuild_notes

The budgets are for SQLite; on PostgreSQL the same figures are printed against a floor on PostgreSQL.

Exit status: 1 when any request failed or the notes in the database do not match what the
clients wrote; with --strict, also when a budget is missed.
"""
from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (Gunicorn, ScratchDatabase, flask_cli, machine, machine_busy, percentile,  # noqa: E402
                     seed_accounts, self_cpu)

P95_BUDGET_MS = 50.0
RATIO_BUDGET = 0.5
PASSWORD = "violet harbour lantern"
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
TOPICS = ("battery recycling", "the robotics club", "a logistics start-up", "their thesis on soil sensors",
          "mentoring junior developers", "a climbing trip", "open data for city buses", "the hiring process")


# --- set-up -------------------------------------------------------------------------------------------

def seed(env: dict, authors: int, subjects: int) -> tuple[list[str], list[str]]:
    """Create the authors and the people to write about; return (author emails, badge tokens)."""
    accounts = ([{"email": f"author{n}@bench.example", "name": f"Author {n}", "values": []} for n in range(authors)]
                + [{"email": f"person{n}@bench.example", "name": f"Person {n}", "headline": "Builds things",
                    "values": ["Curiosity", "Craft"]} for n in range(subjects)])
    seeded = seed_accounts(env, accounts, PASSWORD)
    return [email for email, _ in seeded[:authors]], [token for _, token in seeded[authors:]]


def count_notes() -> int:
    from relbuild import create_app
    from relbuild.extensions import db
    from relbuild.models import Note

    app = create_app()
    with app.app_context():
        count = db.session.query(Note).count()
        db.session.remove()
        db.engine.dispose()
    return count


class Browser:
    """Just enough of a browser to sign in: one keep-alive connection and the session cookie."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, dict, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, dict(response.headers), text

    def csrf(self, path: str = "/scan") -> str:
        status, _, text = self.request("GET", path)
        assert status == 200, (path, status)
        return META_CSRF.search(text).group(1)

    def sign_in(self, email: str) -> tuple[str, str]:
        """Sign in; return (Cookie header value, CSRF token) for the signed-in session."""
        status, headers, _ = self.request("POST", "/login", {"email": email, "password": PASSWORD,
                                                             "csrf_token": self.csrf("/login")})
        assert status == 302 and "/login" not in headers.get("Location", ""), (email, status, headers)
        token = self.csrf()  # sign-in starts a fresh session, so the token comes from a page after it
        self.conn.close()
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items()), token


# --- load -------------------------------------------------------------------------------------------

@dataclass
class Client:
    cookie: str
    csrf: str
    start: int  # where in the pool of people this client begins
    seen: set[int] = field(default_factory=set)
    sent: int = 0


@dataclass
class Run:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds
    errors: list[str] = field(default_factory=list)
    creates: int = 0
    edits: int = 0
    wall: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    other_cpu: float = 0.0  # used by processes outside this benchmark during the run
    worker_cpu: list[float] = field(default_factory=list)  # CPU seconds of each gunicorn worker

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.ok / self.wall if self.wall else 0.0

    def ms(self, pct: float) -> float:
        return percentile(self._sorted, pct) * 1000

    def finish(self) -> None:
        self._sorted = sorted(self.latencies)

    def summary(self) -> dict:
        return {"target": self.name, "requests": self.ok, "errors": len(self.errors), "seconds": round(self.wall, 2),
                "requests_per_s": round(self.rps, 1), "p50_ms": round(self.ms(50), 2), "p95_ms": round(self.ms(95), 2),
                "p99_ms": round(self.ms(99), 2), "max_ms": round(self.ms(100), 2), "creates": self.creates,
                "edits": self.edits, "server_cpu_cores": round(self.server_cpu / self.wall, 2),
                "worker_cpu_cores": [round(s / self.wall, 2) for s in self.worker_cpu],
                "loadgen_cpu_cores": round(self.client_cpu / self.wall, 2),
                "other_processes_cpu_cores": round(self.other_cpu / self.wall, 2)}


def note_request(client: Client, tokens: list[str], port: int) -> tuple[bytes, bool]:
    """The next POST for this client, and whether it creates the note (first visit to that person)."""
    n = client.sent
    # Even requests go to someone new (creating a note), odd ones revisit someone met earlier (an edit).
    index = (client.start + (n // 2 if n % 2 == 0 else n // 4)) % len(tokens)
    creates = index not in client.seen
    client.seen.add(index)
    topic = TOPICS[(n + client.start) % len(TOPICS)]
    form = {"body": f"We talked about {topic}; they asked how our team tests migrations. Visit {n}.",
            "offer": f"Send them the write-up on {topic}" if n % 2 == 0 else "",
            "csrf_token": client.csrf}
    body = urlencode(form).encode()
    head = (f"POST /c/{tokens[index]} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {client.cookie}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body, creates


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = await reader.read()
    return status, headers, body


async def drive(run: Run, port: int, clients: list[Client], tokens: list[str], seconds: float,
                expect_status: int, reconnect_every: int) -> None:
    """Every client sends requests back to back on its own connection for `seconds`.

    Each client opens a new connection every `reconnect_every` requests, as a browser does when
    keep-alive lapses; with permanent connections gunicorn can pin all of them to one worker.
    """
    deadline = time.perf_counter() + seconds

    async def one(client: Client) -> None:
        reader = writer = None
        on_connection = 0
        while time.perf_counter() < deadline:
            if writer is not None and on_connection >= reconnect_every:
                writer.close()
                writer = None
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                on_connection = 0
            on_connection += 1
            payload, creates = note_request(client, tokens, port)
            client.sent += 1
            started = time.perf_counter()
            try:
                writer.write(payload)
                status, headers, _ = await asyncio.wait_for(read_response(reader), timeout=30)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as error:
                run.errors.append(f"{error.__class__.__name__}: {error}")
                writer.close()
                writer = None
                continue
            elapsed = time.perf_counter() - started
            if status != expect_status or "/login" in headers.get("location", ""):
                run.errors.append(f"HTTP {status} {headers.get('location', '')}")
            else:
                run.latencies.append(elapsed)
                if expect_status == 302:  # the real app: count what the write did
                    if creates:
                        run.creates += 1
                    else:
                        run.edits += 1
            if headers.get("connection", "").lower() == "close":
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(one(c) for c in clients))


def measure(name: str, server: Gunicorn, clients: list[Client], tokens: list[str], seconds: float, warmup: float,
            expect_status: int, reconnect_every: int) -> Run:
    if warmup:
        asyncio.run(drive(Run("warm-up"), server.port, clients, tokens, warmup, expect_status, reconnect_every))
    run = Run(name)
    cpu_client, cpu_server, busy, started = self_cpu(), server.cpu(), machine_busy(), time.perf_counter()
    asyncio.run(drive(run, server.port, clients, tokens, seconds, expect_status, reconnect_every))
    run.wall = time.perf_counter() - started
    cpu_after = server.cpu()
    run.client_cpu = self_cpu() - cpu_client
    used = {pid: seconds - cpu_server.get(pid, 0.0) for pid, seconds in cpu_after.items()}
    run.server_cpu = sum(used.values())
    run.other_cpu = max(0.0, machine_busy() - busy - run.client_cpu - run.server_cpu)
    run.worker_cpu = sorted((s for pid, s in used.items() if pid != server.proc.pid), reverse=True)
    run.finish()
    return run


# --- main ---------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per target (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per target (default 3)")
    parser.add_argument("--people", type=int, default=2000, help="people to write about (default 2000)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, as make run)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4, as make run)")
    parser.add_argument("--reconnect-every", type=int, default=50, metavar="N",
                        help="each client opens a new connection every N requests (default 50)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 s per target, 1 s warm-up")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a budget is missed")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor endpoint (not for budgets)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (database, gunicorn logs)")
    parser.add_argument("--database-url", help="a PostgreSQL URL naming a database to create and drop (default: a "
                        "SQLite file); the floor runs on a copy of it")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.warmup, args.people = 2.0, 1.0, 200
    args.duration = min(args.duration, 600.0)

    with ScratchDatabase(args.database_url, prefix="relbuild-bench-notes-", keep_files=args.keep) as database:
        tmp = database.tmp
        env = {**os.environ, "DATABASE_URL": database.url, "SECRET_KEY": "bench-secret-key",
               "BASE_URL": "http://127.0.0.1:5000", "FLASK_APP": "app"}
        env.pop("REDIS_URL", None)
        print(f"machine: {machine()}")
        print(f"gunicorn --workers {args.workers} --threads {args.threads}; {args.clients} clients; "
              f"{args.duration:g} s per target after {args.warmup:g} s warm-up; {database.label}")
        flask_cli(env, "db", "upgrade")
        emails, tokens = seed(env, args.clients, args.people)
        loads = [os.getloadavg()[0]]

        with Gunicorn("note_wsgi:app", env, args.workers, args.threads, tmp / "gunicorn-sign-in.log") as server:
            sessions = [Browser(server.port).sign_in(email) for email in emails]
        step = max(1, len(tokens) // args.clients)
        clients = [Client(cookie, csrf, start=i * step) for i, (cookie, csrf) in enumerate(sessions)]
        floor_url = database.copy("floor")  # the floor starts where the app starts, sessions included
        with Gunicorn("note_wsgi:app", env, args.workers, args.threads, tmp / "gunicorn-app.log") as server:
            app_run = measure("note POST /c/<token>", server, clients, tokens, args.duration, args.warmup, 302,
                              args.reconnect_every)
        expected_notes = len({(i, s) for i, c in enumerate(clients) for s in c.seen})
        # Every visit the clients made (warm-up included) saved a note, so the database holds one per pair.
        notes_in_db = count_notes()

        loads.append(os.getloadavg()[0])
        floor_run = None
        if not args.no_floor:
            floor_clients = [Client(c.cookie, c.csrf, start=c.start) for c in clients]
            floor_env = {**env, "DATABASE_URL": floor_url}
            with Gunicorn("floor_app:app", floor_env, args.workers, args.threads,
                          tmp / "gunicorn-floor.log") as server:
                floor_run = measure("floor", server, floor_clients, tokens, args.duration, args.warmup, 302,
                                    args.reconnect_every)
            loads.append(os.getloadavg()[0])
        bare_clients = [Client(c.cookie, c.csrf, start=c.start) for c in clients]
        with Gunicorn("bare_app:app", env, args.workers, args.threads, tmp / "gunicorn-bare.log") as server:
            bare_run = measure("bare Flask", server, bare_clients, tokens, args.duration, args.warmup, 200,
                               args.reconnect_every)
        loads.append(os.getloadavg()[0])
        if args.keep:
            print(f"kept {tmp}")

    bare_ratio = app_run.rps / bare_run.rps if bare_run.rps else 0.0
    ratio = app_run.rps / floor_run.rps if floor_run and floor_run.rps else 0.0
    p95_ratio = app_run.ms(95) / floor_run.ms(95) if floor_run else 0.0
    p95_ok = app_run.ms(95) <= P95_BUDGET_MS
    ratio_ok = ratio >= RATIO_BUDGET
    runs = [r for r in (app_run, floor_run, bare_run) if r is not None]
    print()
    print(f"{'target':<22} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'requests':>9} "
          f"{'errors':>7} {'server CPU':>11} {'loadgen CPU':>12} {'other CPU':>10}")
    for run in runs:
        s = run.summary()
        print(f"{run.name:<22} {s['requests_per_s']:>8.1f} {s['p50_ms']:>8.2f} {s['p95_ms']:>8.2f} {s['p99_ms']:>8.2f} "
              f"{s['max_ms']:>8.2f} {s['requests']:>9} {s['errors']:>7} {s['server_cpu_cores']:>8.2f} cores "
              f"{s['loadgen_cpu_cores']:>7.2f} cores {s['other_processes_cpu_cores']:>5.2f} cores")
    if max(run.other_cpu / run.wall for run in runs) > 0.25:
        print("warning: other processes used CPU during the run ('other CPU'): the numbers are low; run again on a "
              "quiet machine")
    for run in runs:
        print(f"{run.name}: CPU per gunicorn worker (cores): {run.summary()['worker_cpu_cores']}; "
              f"server CPU per request {run.server_cpu / max(run.ok, 1) * 1000:.2f} ms")
    print("load average (1 min) at start / after app / after floor / after bare: "
          + " / ".join(f"{x:.2f}" for x in loads) + f" on {os.cpu_count()} cores")
    print(f"note writes: {app_run.creates} creates, {app_run.edits} edits; "
          f"notes in the database {notes_in_db} (expected {expected_notes})")
    print(f"p95 {app_run.ms(95):.1f} ms (budget <= {P95_BUDGET_MS:g} ms): {'PASS' if p95_ok else 'MISS'}")
    if floor_run:
        print(f"throughput {ratio:.2f} x the floor (budget >= {RATIO_BUDGET:g}): {'PASS' if ratio_ok else 'MISS'}; "
              f"p95 {p95_ratio:.2f} x the floor's")
    print(f"throughput {bare_ratio:.3f} x bare Flask (reported, no budget)")
    for run in runs:
        for error in sorted(set(run.errors))[:5]:
            print(f"  {run.name} error: {error} (x{run.errors.count(error)})")

    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": machine(), "workers": args.workers, "threads": args.threads, "clients": args.clients,
            "runs": [r.summary() for r in runs], "ratio": round(ratio, 3), "ratio_bare": round(bare_ratio, 3),
            "p95_ratio": round(p95_ratio, 3), "loadavg": loads,
            "p95_budget_ms": P95_BUDGET_MS, "ratio_budget": RATIO_BUDGET,
            "notes_in_db": notes_in_db, "expected_notes": expected_notes}, indent=2))

    broken = any(run.errors for run in runs) or notes_in_db != expected_notes
    if broken:
        print("FAILED: errors or a note count mismatch (see above)")
        return 1
    return 1 if args.strict and not (p95_ok and ratio_ok and floor_run) else 0


if __name__ == "__main__":
    sys.exit(main())
