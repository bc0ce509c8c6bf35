"""Benchmark: one follow-up pass over 10,000 due prompts into a local SMTP server.

Budget (ENGINEERING.md): one follow-up pass over 10,000 due prompts into a local SMTP sink sends
at least half the sink's own rate (ready-made messages over one connection, no app work); into a
sink that takes 50 ms per message (a real provider's pace: --smtp-delay-ms 50) it takes <= 60 s.

What it does:

1. Makes a scratch database: a SQLite file in a temporary folder, or, with --database-url, a
   new PostgreSQL database of that name (it must not exist yet; it is dropped afterwards).
   Then runs `flask --app app db upgrade` on it.
2. Creates 10,000 authors, each with one note about the same person, met on 2026-11-29 and
   scheduled by the app's own `new_note_prompts`: 10,000 digest prompts (one email each)
   due at 2026-11-30 09:00 UTC.
3. Starts an aiosmtpd server on a free 127.0.0.1 port in a separate process (so it does not
   share the sender's GIL) that accepts and counts every message.
4. Times `send_due(2026-12-01T00:00)` from relbuild.services.delivery in an app context with
   SMTP_HOST/SMTP_PORT pointing at that server: claim, render, send over SMTP_CONNECTIONS connections,
   mark sent, exactly as `flask followups send-due` does.
5. Checks that the pass reports 10,000 sent, the server received 10,000 messages for 10,000
   distinct recipients, and the database has 10,000 digest prompts marked sent.

Run it from the project folder:

    .venv/bin/python bench/followup_pass.py              # SQLite, 10,000 prompts
    .venv/bin/python bench/followup_pass.py --quick      # SQLite, 500 prompts (a few seconds)
    .venv/bin/python bench/followup_pass.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/relbuild_bench
    .venv/bin/python bench/followup_pass.py --profile    # also print where the pass spends its time (cProfile)
    .venv/bin/python bench/followup_pass.py --smtp-delay-ms 50   # a provider's pace; --connections N sets
                                                                 # SMTP_CONNECTIONS (default: the app's)
    .venv/bin/python bench/followup_pass.py --smtp-port 5310     # the sink's port (default: a free one)

Exit status: 1 when any message is missing or duplicated; with --strict, also when the
budget is missed.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (ROOT, ScratchDatabase, SMTPServer, cpu_of_command, flask_cli, machine, machine_busy,  # noqa: E402
                     process_tree_cpu, self_cpu)

CEILING_SHARE = 0.5  # into the plain sink: at least this share of the sink's own rate
PACED_SECONDS = 60.0  # into the 50 ms sink: 10,000 messages in at most this long (scaled to --count)
MET_AT = datetime(2026, 11, 29, 12, 0)
NOW = datetime(2026, 12, 1, 0, 0)


# --- data -------------------------------------------------------------------------------------------

def seed(count: int) -> None:
    """`count` authors, each with one note met the same day: `count` digest prompts due at NOW."""
    import sqlalchemy as sa

    from relbuild.extensions import db
    from relbuild.models import Note, Prompt, User
    from relbuild.services.followups import new_note_prompts, offer_check_prompt

    subject = User(email="sam@bench.example", password_hash="!", name="Sam Subject", values=[],
                   headline="Builds robots", share_email=True)
    db.session.add(subject)
    db.session.flush()
    db.session.execute(sa.insert(User), [
        {"email": f"author{n}@bench.example", "password_hash": "!", "name": f"Author {n}", "values": [],
         "email_confirmed_at": MET_AT}
        for n in range(count)])
    authors = list(db.session.scalars(sa.select(User).where(User.id != subject.id).order_by(User.id)))
    notes = [Note(author_id=author.id, subject_id=subject.id, met_at=MET_AT,
                  body=f"Talked about Sam's warehouse robots and their battery swaps, note {n}",
                  offer="Send the paper on swarm charging" if n % 3 == 0 else "")
             for n, author in enumerate(authors)]
    db.session.add_all(notes)
    db.session.flush()
    prompts = []
    for note, author in zip(notes, authors):  # as the write path schedules a new note's prompts
        prompts += new_note_prompts(author, note.id, note.met_at)
        if note.offer:
            prompts.append(offer_check_prompt(author, note.id, note.met_at, created=True))
    db.session.execute(sa.insert(Prompt), prompts)
    db.session.commit()


def sent_digests() -> Counter:
    import sqlalchemy as sa

    from relbuild.extensions import db
    from relbuild.models import Prompt

    return Counter(db.session.scalars(sa.select(Prompt.status).where(Prompt.kind == "digest")))


def top_functions(profile: cProfile.Profile, limit: int = 30) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(limit)
    stats.sort_stats("tottime").print_stats(limit)
    return out.getvalue()


# --- main ---------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="due prompts, one email each (default 10000)")
    parser.add_argument("--database-url", help="a PostgreSQL URL naming a database to create and drop "
                                               "(default: a temporary SQLite file)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 500 prompts")
    parser.add_argument("--profile", action="store_true", help="profile the pass with cProfile and print the top")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the budget is missed")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--smtp-delay-ms", type=float, default=0.0,
                        help="the sink answers each message this long after its data arrived (default 0)")
    parser.add_argument("--connections", type=int, help="SMTP_CONNECTIONS for the pass (default: the app's)")
    parser.add_argument("--smtp-port", type=int, help="the sink's port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args()
    if args.quick:
        args.count = 500
    if args.connections:
        os.environ["SMTP_CONNECTIONS"] = str(args.connections)
    delay = args.smtp_delay_ms / 1000
    with ScratchDatabase(args.database_url) as scratch, SMTPServer(delay, args.smtp_port) as smtp:
        env = {**os.environ, "DATABASE_URL": scratch.url, "SECRET_KEY": "bench-secret-key",
               "BASE_URL": "https://relbuild.example", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port),
               "SMTP_SECURITY": "none"}
        print(f"machine: {machine()}")
        print(f"database: {scratch.label}; {args.count:,} due prompts; SMTP server 127.0.0.1:{smtp.port}")
        flask_cli(env, "db", "upgrade")
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "SECRET_KEY", "BASE_URL", "SMTP_HOST", "SMTP_PORT",
                                               "SMTP_SECURITY")})
        sys.path.insert(0, str(ROOT))
        from relbuild import create_app
        from relbuild.extensions import db
        from relbuild.services.delivery import send_due

        app = create_app()
        with app.app_context():
            started = time.perf_counter()
            seed(args.count)
            seeded = time.perf_counter() - started
            print(f"seeded in {seeded:.1f} s")
            db.session.remove()

            profile = cProfile.Profile() if args.profile else None
            cpu_self, cpu_smtp = self_cpu(), sum(process_tree_cpu(smtp.process.pid).values())
            busy, cpu_db = machine_busy(), cpu_of_command("postgres")
            load_before = os.getloadavg()[0]
            started = time.perf_counter()
            if profile:
                profile.enable()
            result = send_due(NOW)
            if profile:
                profile.disable()
            elapsed = time.perf_counter() - started
            load_after = os.getloadavg()[0]
            connections = app.config["SMTP_CONNECTIONS"]
            cpu_self, cpu_smtp = self_cpu() - cpu_self, sum(process_tree_cpu(smtp.process.pid).values()) - cpu_smtp
            cpu_db = cpu_of_command("postgres") - cpu_db  # 0 on SQLite (unless another project's PostgreSQL is busy)
            cpu_other = max(0.0, machine_busy() - busy - cpu_self - cpu_smtp - cpu_db)
            statuses = sent_digests()
            db.session.remove()
            db.engine.dispose()
        received, recipients, received_bytes = smtp.stats()
        average_size = received_bytes // max(received, 1)
        # The sink's own rate, measured when it answers at once (a paced sink's ceiling is 1 / delay a connection):
        # the best of three, since one measurement of a second or so moved by a quarter between runs.
        ceiling = (max(smtp.transport_ceiling(average_size, min(args.count, 2000)) for _ in range(3)) if not delay
                   else 1 / delay)

    rate = result.sent / elapsed if elapsed else 0.0
    distinct = len(recipients)
    duplicated = sum(1 for n in recipients.values() if n > 1)
    complete = (result.sent == args.count and received == args.count and distinct == args.count
                and not duplicated and statuses.get("sent") == args.count)
    print()
    print(f"pass: {result.line()} in {elapsed:.2f} s")
    print(f"SMTP server received {received:,} messages for {distinct:,} distinct recipients "
          f"({duplicated} received more than one); digest prompts in the database: {dict(statuses)}")
    print(f"for scale: this SMTP server takes {ceiling:,.0f} ready-made {average_size:,}-byte messages/s "
          f"over one connection (no app work)")
    print(f"CPU during the pass: sender (this process) {cpu_self / elapsed:.2f} cores, "
          f"SMTP server {cpu_smtp / elapsed:.2f} cores, PostgreSQL {cpu_db / elapsed:.2f} cores, "
          f"other processes {cpu_other / elapsed:.2f} cores")
    if cpu_other / elapsed > 0.25:
        print("warning: other processes used CPU during the pass: the rate is low; run again on a quiet machine")
    print(f"SMTP_CONNECTIONS {connections}, sink delay {args.smtp_delay_ms:g} ms; load average (1 min) "
          f"{load_before:.2f} before, {load_after:.2f} after, on {os.cpu_count()} cores")
    if delay:
        allowed = PACED_SECONDS * args.count / 10_000
        met = elapsed <= allowed
        print(f"paced sink: {args.count:,} messages in {elapsed:.1f} s, {rate:,.0f}/s (budget <= {allowed:g} s): "
              f"{'PASS' if met else 'MISS'}")
    else:
        met = rate >= CEILING_SHARE * ceiling
        print(f"rate: {rate:,.0f} messages/s = {rate / ceiling:.2f} x the sink's own {ceiling:,.0f}/s "
              f"(budget >= {CEILING_SHARE:g} x): {'PASS' if met else 'MISS'}")
    if profile:
        print("\n" + top_functions(profile))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": machine(), "database": scratch.label, "prompts": args.count, "sent": result.sent,
            "received": received, "distinct_recipients": distinct, "seconds": round(elapsed, 3),
            "messages_per_s": round(rate, 1), "budget_met": met, "smtp_delay_ms": args.smtp_delay_ms,
            "smtp_connections": connections, "loadavg": [load_before, load_after], "average_message_bytes": average_size,
            "smtp_transport_ceiling_per_s": round(ceiling, 1),
            "postgres_cpu_cores": round(cpu_db / elapsed, 2),
            "other_processes_cpu_cores": round(cpu_other / elapsed, 2),
            "sender_cpu_cores": round(cpu_self / elapsed, 2),
            "smtp_server_cpu_cores": round(cpu_smtp / elapsed, 2)}, indent=2))
    for error in sorted(set(result.errors))[:5]:
        print(f"  pass error: {error} (x{result.errors.count(error)})")
    if not complete:
        print("FAILED: messages missing or duplicated (see above)")
        return 1
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
