"""Benchmark: CPU per note write inside one process, on SQLite or PostgreSQL, without HTTP or contention.

bench/note_writes.py measures writes over HTTP under load against a floor; this one answers the steadier
question "how much CPU does the app spend on one write?", for the badge page's form (POST /c/<token>) and
the phone's outbox (PUT /api/notes/<id>), on either database. It runs the app in this process with Flask's
test client (whose own cost is measured on a route that only redirects and printed beside), one signed-in
author writing about a pool of people: every other write creates a note, the next edits it, the offer
switched on and off. CPU is this process's (time.process_time), so PostgreSQL's own work is not in it;
the best of several rounds is reported, which keeps other load on the machine out of the figure.

    .venv/bin/python bench/note_cpu.py                          # SQLite (a scratch file)
    .venv/bin/python bench/note_cpu.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/relbuild_cpu
    .venv/bin/python bench/note_cpu.py --profile                # also a cProfile of the form's writes

The PostgreSQL database is created and dropped by the script (it must not exist).
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, ScratchDatabase, flask_cli, machine, seed_accounts  # noqa: E402

PASSWORD = "violet harbour lantern"
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL of a database to create (default: SQLite)")
    parser.add_argument("--writes", type=int, default=400, help="writes per round (default 400)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best is reported (default 5)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one round of form writes")
    args = parser.parse_args()

    with ScratchDatabase(args.database_url, prefix="relbuild-bench-cpu-") as database:
        env = {**os.environ, "DATABASE_URL": database.url, "SECRET_KEY": "bench-secret-key",
               "BASE_URL": "http://localhost:5000"}
        flask_cli(env, "db", "upgrade")
        people = args.writes * args.rounds + 1  # the form's writes use the first half, the outbox's the second
        seeded = seed_accounts(env, [{"email": "author@bench.example", "name": "Author", "values": []}] +
                               [{"email": f"p{n}@bench.example", "name": f"Person {n}", "values": []}
                                for n in range(people)], PASSWORD)
        tokens = [token for _, token in seeded[1:]]

        sys.path.insert(0, str(ROOT))
        import flask
        from relbuild import create_app

        app = create_app({"RATELIMIT_ENABLED": False})
        client = app.test_client()
        csrf = META_CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
        signed_in = client.post("/login", data={"email": "author@bench.example", "password": PASSWORD,
                                                "csrf_token": csrf})
        assert signed_in.status_code == 302, signed_in.status_code
        csrf = META_CSRF.search(client.get("/scan").get_data(as_text=True)).group(1)
        cookie = client.get_cookie("session").value

        bare = flask.Flask("bare")
        bare.add_url_rule("/c/<token>", "c", lambda token: flask.redirect(flask.request.path), methods=["POST"])
        bare_client = bare.test_client()

        def form_writes(target, start: int, count: int) -> None:
            for n in range(start, start + count):
                target.set_cookie("session", cookie)
                answer = target.post(f"/c/{tokens[n // 2 % len(tokens)]}", data={
                    "body": f"We talked about battery recycling, round {n}", "offer": "An intro" if n % 4 < 2 else "",
                    "csrf_token": csrf})
                assert answer.status_code == 302 and "/login" not in answer.headers["Location"], answer.status_code

        def api_writes(start: int, count: int) -> None:
            for n in range(start, start + count):
                client.set_cookie("session", cookie)
                answer = client.put(f"/api/notes/{uuid.uuid4()}", headers={"X-CSRFToken": csrf}, json={
                    "badge": tokens[(len(tokens) // 2 + n // 2) % len(tokens)], "body": f"We talked about open data, round {n}",
                    "offer": "An intro" if n % 4 < 2 else ""})
                assert answer.status_code in (200, 201), (answer.status_code, answer.get_data(as_text=True))

        def best(run) -> float:
            times = []
            for round_ in range(args.rounds):
                started = time.process_time()
                run(round_ * args.writes, args.writes)
                times.append((time.process_time() - started) / args.writes * 1000)
            return min(times)

        form_writes(client, 0, 50)  # warm up: imports, statement caches, the pool
        print(f"machine: {machine()}; {database.label}; {args.writes} writes a round, best of {args.rounds}; "
              f"load average {os.getloadavg()[0]:.2f}")
        test_client = best(lambda start, count: form_writes(bare_client, start, count))
        form = best(lambda start, count: form_writes(client, start, count))
        api = best(api_writes)
        print(f"CPU per write: form POST {form:.2f} ms, outbox PUT {api:.2f} ms "
              f"(of which the test client and Flask's least: {test_client:.2f} ms)")
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            form_writes(client, 10 ** 6, args.writes)
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
