"""Load benchmark: a fair of 200 attendees opening badges and writing notes, against bare Flask.

Pass condition (issue 6): zero failed requests and no lost notes: after the run, the database
holds exactly the notes the simulated attendees were told were saved, each with the last text
they saved.

What it does:

1. Makes a scratch database (a SQLite file in WAL mode, or with --database-url a PostgreSQL
   database it creates and drops afterwards) and runs `flask --app app db upgrade`.
2. Creates the attendees, each with a badge (one password hash shared by all, so set-up is quick).
3. Serves the app as `make run` does: gunicorn from the venv, `--workers 2 --threads 4` by
   default, on a free 127.0.0.1 port. It serves bench/note_wsgi.py, which is app.py with rate
   limits off: every simulated phone comes from 127.0.0.1.
4. Runs locust headless (bench/locust_fair.py, one user per attendee): everyone signs in, then for
   the measured window each attendee opens other attendees' badge pages and writes notes
   (HTML form and offline-outbox PUT, some PUTs sent twice), with a think time between steps.
5. Compares the notes in the database with what the attendees were told was saved.
6. Replays the same fair, with the same gunicorn settings, against bench/bare_app.py (one route
   answering "ok"): the baseline.

Run it from the project folder:

    .venv/bin/python bench/load_fair.py                  # 200 attendees, 60 s, SQLite
    .venv/bin/python bench/load_fair.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/relbuild_load
    .venv/bin/python bench/load_fair.py --think 0        # back to back: the server's capacity
    .venv/bin/python bench/load_fair.py --smoke          # 10 attendees for a few seconds (the test suite)

Exit status: 1 when any request failed or a note is missing or stale.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (BENCH, ROOT, Gunicorn, ScratchDatabase, flask_cli, machine, percentile,  # noqa: E402
                     seed_accounts)

PASSWORD = "violet harbour lantern"
VALUES = ("Curiosity", "Craft", "Generosity", "Honesty", "Patience")
ORDER = ("GET /c/<token>", "POST /c/<token>", "PUT /api/notes/<uuid>", "PUT /api/notes/<uuid> (retry)")


def seed(env: dict, count: int) -> list[tuple[str, str]]:
    """Create `count` attendees with badges; return their (email, badge token)."""
    return seed_accounts(env, [{"email": f"attendee{n}@fair.example", "name": f"Attendee {n}",
                                "headline": "Builds things", "values": [VALUES[n % 5], VALUES[(n + 2) % 5]]}
                               for n in range(count)], PASSWORD)


def notes_in_database() -> dict[tuple[str, str], tuple[str, str]]:
    """Every note as (author email, person email) -> (body, offer)."""
    import sqlalchemy as sa
    from sqlalchemy.orm import aliased

    from relbuild import create_app
    from relbuild.extensions import db
    from relbuild.models import Note, User

    author, person = aliased(User), aliased(User)
    app = create_app()
    with app.app_context():
        rows = db.session.execute(sa.select(author.email, person.email, Note.body, Note.offer)
                                  .join(author, author.id == Note.author_id).join(person, person.id == Note.subject_id))
        notes = {(a, p): (body, offer or "") for a, p, body, offer in rows}
        db.session.remove()
        db.engine.dispose()
    return notes


def fair(name: str, server: Gunicorn, attendees: list, args, tmp: Path, postgres_database: str | None) -> dict:
    """Run locust against `server`; return the results locust_fair.py wrote, summarised."""
    plan, results = tmp / f"plan-{name}.json", tmp / f"results-{name}.json"
    plan.write_text(json.dumps({"attendees": attendees, "password": PASSWORD, "seconds": args.duration,
                                "think": args.think, "bare": name == "bare", "server_pid": server.proc.pid,
                                "postgres_database": postgres_database, "results": str(results)}))
    users = len(attendees)
    sign_in_allowance = 30 + users * 0.5  # scrypt at about 0.15 s per sign-in, two cores, and slack
    command = [sys.executable, "-m", "locust", "-f", str(BENCH / "locust_fair.py"), "--headless", "--only-summary",
               "--users", str(users), "--spawn-rate", str(args.spawn_rate), "--host", f"http://127.0.0.1:{server.port}",
               "--run-time", f"{int(sign_in_allowance + args.duration + 60)}s", "--loglevel", "WARNING"]
    with open(tmp / f"locust-{name}.log", "w") as log:
        subprocess.run(command, cwd=ROOT, env={**os.environ, "RELBUILD_FAIR": str(plan)}, stdout=log,
                       stderr=subprocess.STDOUT)
    if not results.exists():
        raise SystemExit(f"locust ended without results ({name}):\n" + (tmp / f"locust-{name}.log").read_text()[-3000:])
    return summarise(name, json.loads(results.read_text()))


def summarise(name: str, data: dict) -> dict:
    """Per endpoint: requests/s, latency percentiles and failures; CPU use in cores."""
    seconds, cpu = data["seconds"], data["cpu_seconds"]
    errors = Counter(f"{request}: {message}" for request, message in data["errors"])
    rows = {}
    for label, latencies in [(n, data["latencies_ms"].get(n, [])) for n in ORDER] + [
            ("all", [ms for n in ORDER for ms in data["latencies_ms"].get(n, [])])]:
        latencies.sort()
        failed = sum(1 for request, _ in data["errors"] if label in (request, "all"))
        rows[label] = {"requests": len(latencies), "requests_per_s": round(len(latencies) / seconds, 1),
                       **{f"p{p}_ms": round(percentile(latencies, p), 1) for p in (50, 95, 99)},
                       "max_ms": round(latencies[-1], 1) if latencies else None, "errors": failed}
    return {"target": name, "seconds": round(seconds, 1), "sign_in_seconds": round(data["sign_in_seconds"], 1),
            "endpoints": rows, "errors": dict(errors), "saved": data["saved"],
            "cpu_cores": {"server": round(cpu["server"] / seconds, 2),
                          "workers": [round(s / seconds, 2) for s in cpu["workers"]],
                          "postgres": round(cpu["postgres"] / seconds, 2),
                          "loadgen": round(cpu["loadgen"] / seconds, 2),
                          "other": round(max(0.0, cpu["machine"] - cpu["server"] - cpu["postgres"] - cpu["loadgen"])
                                         / seconds, 2)}}


def check_notes(run: dict, attendees: list) -> dict:
    """Compare the database with the notes the attendees were told were saved."""
    emails = [email for email, _ in attendees]
    saved = {(emails[a], emails[p]): (body, offer) for a, p, body, offer in run["saved"]}
    stored = notes_in_database()
    return {"notes_saved": len(saved), "notes_in_database": len(stored),
            "lost": sum(1 for pair in saved if pair not in stored),
            "stale": sum(1 for pair, text in saved.items() if pair in stored and stored[pair] != text),
            "unexpected": sum(1 for pair in stored if pair not in saved)}


def report(runs: list[dict], notes: dict) -> None:
    app, bare = runs
    print(f"\n{'endpoint':<32} {'target':<6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'requests':>9} {'errors':>7}")
    for label in ORDER + ("all",):
        for run in runs:
            row = run["endpoints"][label]
            if row["requests"] or row["errors"]:
                print(f"{label:<32} {run['target']:<6} {row['requests_per_s']:>7.1f} {row['p50_ms']:>8.1f} "
                      f"{row['p95_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['max_ms'] or 0:>8.1f} {row['requests']:>9} "
                      f"{row['errors']:>7}")
    ratio = app["endpoints"]["all"]["requests_per_s"] / (bare["endpoints"]["all"]["requests_per_s"] or 1)
    print(f"\nthroughput: app {ratio:.2f} x bare Flask (same attendees, same think time)")
    for run in runs:
        print(f"{run['target']}: {run['seconds']} s measured after {run['sign_in_seconds']} s of sign-ins; "
              f"CPU (cores): {run['cpu_cores']}")
    if max(run["cpu_cores"]["other"] for run in runs) > 0.25:
        print("warning: other processes used CPU during the run ('other'): the numbers are low; run again on a "
              "quiet machine")
    print(f"notes: {notes}")
    for run in runs:
        for message, count in sorted(run["errors"].items(), key=lambda item: -item[1])[:5]:
            print(f"  {run['target']} error: {message} (x{count})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=200, help="simulated attendees (default 200)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured per target (default 60)")
    parser.add_argument("--think", type=float, default=2.0,
                        help="mean seconds an attendee pauses after each page and each note (default 2; 0: none)")
    parser.add_argument("--spawn-rate", type=float, default=20.0, help="attendees arriving per second (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, as make run)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4, as make run)")
    parser.add_argument("--database-url", help="a PostgreSQL URL naming a database to create and drop "
                                               "(default: a temporary SQLite file)")
    parser.add_argument("--smoke", "--quick", action="store_true", help="smoke run: 10 attendees, 4 s, think 0.2 s")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    if args.smoke:
        args.users, args.duration, args.think = 10, 4.0, 0.2

    with ScratchDatabase(args.database_url, prefix="relbuild-bench-load-") as scratch:
        env = {**os.environ, "DATABASE_URL": scratch.url, "SECRET_KEY": "bench-secret-key",
               "BASE_URL": "http://127.0.0.1:5000", "FLASK_APP": "app"}
        env.pop("REDIS_URL", None)
        print(f"machine: {machine()}")
        print(f"{scratch.label}; gunicorn --workers {args.workers} --threads {args.threads}; {args.users} attendees; "
              f"{args.duration:g} s per target, think {args.think:g} s")
        flask_cli(env, "db", "upgrade")
        attendees = seed(env, args.users)
        with Gunicorn("note_wsgi:app", env, args.workers, args.threads, scratch.tmp / "gunicorn-app.log") as server:
            app = fair("app", server, attendees, args, scratch.tmp, scratch.name if scratch.postgres else None)
        notes = check_notes(app, attendees)
        with Gunicorn("bare_app:app", env, args.workers, args.threads, scratch.tmp / "gunicorn-bare.log") as server:
            bare = fair("bare", server, attendees, args, scratch.tmp, None)

    runs = [app, bare]
    report(runs, notes)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": machine(), "database": scratch.label, "workers": args.workers, "threads": args.threads,
            "users": args.users, "think": args.think, "notes": notes,
            "runs": [{k: v for k, v in run.items() if k != "saved"} for run in runs]}, indent=2))
    failed = any(run["errors"] for run in runs) or notes["lost"] or notes["stale"] or notes["unexpected"]
    print("FAILED: failed requests or notes that do not match" if failed else "PASS: no failed requests, no lost notes")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
