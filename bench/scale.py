"""Benchmark: Relbuild on PostgreSQL with 100,000 people, 1,000,000 notes and 3,000,000 prompts.

Issue 6 ("Trust and scale"): `/people` with and without a search, the organizer dashboard and a
follow-up pass stay fast at full size, compared with the same at 10,000 notes, and the query
plans use indexes.

What it does:

1. Creates its own PostgreSQL database (default `relbuild_scale`) and runs `flask --app app db
   upgrade` on it. A database this script made earlier (it leaves a comment on it) is replaced;
   any other database of that name is refused.
2. Generates the data on the server with INSERT … SELECT generate_series: people with badges,
   ten notes by each author about ten different people (about 40% with an offer), three prompts
   per note (sent, cancelled, skipped and failed history; pending ones in the future), one
   event whose attendees wrote three notes each there, and `due` digest prompts due now, one
   email each. Then VACUUM ANALYZE, as autovacuum would do on a live server.
3. Times, through the real app (Flask test client, signed in): `/people`, `/people?q=<name>`
   as an attendee with ten notes, `/events/<id>/dashboard` as the event's organizer, and one
   follow-up pass (`send_due`, as `flask followups send-due` runs it) into a local SMTP server.
4. Records every SQL statement those make, runs EXPLAIN (ANALYZE, BUFFERS) on each (in a
   transaction that is rolled back) and fails when one reads notes, prompts, users or badges
   with a sequential scan. Below full size the planner rightly prefers sequential scans on
   tiny tables, so there the check runs with enable_seqscan off: it then asks whether an
   index *can* serve each query.

Run it from the project folder:

    .venv/bin/python bench/scale.py --scale small     # 1,000 people, 10,000 notes, 30,000 prompts
    .venv/bin/python bench/scale.py --scale full      # 100,000 people, 1,000,000 notes, 3,000,000 prompts
    .venv/bin/python bench/scale.py --smoke           # 200 people: a few seconds (tests/test_scale_smoke.py)
    .venv/bin/python bench/scale.py --scale full --keep            # keep the database afterwards
    .venv/bin/python bench/scale.py --scale full --keep --reuse    # measure a kept database again

Exit status 1 when a plan reads a big table sequentially, a request fails or an email is missing.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (ROOT, SMTPServer, cpu_of_command, flask_cli, machine, machine_busy,  # noqa: E402
                     percentile, process_tree_cpu, self_cpu)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/relbuild_scale"
MARK = "made by relbuild bench/scale.py, size {}"
NOW = datetime(2026, 12, 1, 12, 0)
# The due prompts are due at a minute no generated history prompt uses, so a rerun can find them again.
DUE_AT = NOW - timedelta(minutes=30)
BIG_TABLES = ("notes", "prompts", "users", "badges")
ATTENDEE, ORGANIZER = 2, 1  # user ids: an attendee with ten notes, and the event's organizer (also an attendee)


@dataclass(frozen=True)
class Size:
    people: int
    attendees: int  # of the one event; they wrote three of their ten notes there
    due: int  # prompts due now, one email each: what the timed follow-up pass sends
    repeats: int  # timed requests per page

    notes_per_author = 10
    prompts_per_note = 3


SIZES = {
    "smoke": Size(people=200, attendees=50, due=50, repeats=3),
    "small": Size(people=1_000, attendees=500, due=1_000, repeats=20),
    "full": Size(people=100_000, attendees=5_000, due=1_000, repeats=20),
}

WORDS = {
    "first": ["Priya", "Jonas", "Amara", "Mateo", "Sofia", "Kenji", "Leila", "Tomasz", "Grace", "Omar", "Ingrid",
              "Rafael", "Mei", "Kwame", "Elena", "Arjun", "Hanna", "Diego", "Yara", "Lukas", "Nadia", "Samuel",
              "Aiko", "Felix", "Zainab", "Emil", "Chloe", "Tariq", "Marta", "Wei"],
    "last": ["Okafor", "Schmidt", "Nakamura", "Garcia", "Kowalski", "Haddad", "Lindqvist", "Mensah", "Rossi",
             "Chen", "Dubois", "Patel", "Novak", "Silva", "Andersen", "Kim", "Moreau", "Yilmaz", "Brennan", "Sato"],
    "headline": ["Data engineer at a logistics start-up", "Final-year mechanical engineering student",
                 "UX researcher, public services", "Recruiter for graduate roles", "Career changer into nursing",
                 "Biology PhD looking at industry", "Product designer, climate tech", "Backend developer",
                 "Teacher moving into learning design", "Accountant who loves open data"],
    "topic": ["warehouse robots and battery swaps", "how their team runs usability tests with real patients",
              "moving from academia into a product role", "the graduate scheme and what the first year is like",
              "open data for city bus routes", "a thesis on soil microbes and carbon", "accessible forms in banking",
              "building a small kiln in a shared workshop", "volunteering at a coding club for teenagers",
              "negotiating a first salary", "switching careers at forty", "the ethics of hiring algorithms"],
    "detail": ["She asked how I would test it with people who never use apps.",
               "He lit up talking about the mentor who got him started.",
               "They are hiring two juniors in spring and prefer portfolios to CVs.",
               "We disagreed about remote work and it was the best part of the conversation.",
               "Their manager reads every cover letter, which surprised me.",
               "They want to meet people from outside their field."],
    "offer": ["Send the link to the UX meetup", "Introduce them to my old lab's supervisor",
              "Share my notes on salary negotiation", "Forward the spring internship posting",
              "Lend the book on accessible design", "Review their portfolio before the deadline"],
    "timezone": ["Europe/Berlin", "Europe/London", "America/New_York", "Asia/Tokyo", "UTC"],
}


def _array(name: str) -> str:
    return "ARRAY[" + ", ".join("'" + w.replace("'", "''") + "'" for w in WORDS[name]) + "]"


def _pick(name: str, seed: str) -> str:
    """SQL picking one of WORDS[name], deterministically from a seed expression."""
    return f"({_array(name)})[1 + abs(hashtext({seed})) % {len(WORDS[name])}]"


def stride(people: int) -> int:
    """A step such that author a's ten subjects (a + k * step) mod people are distinct and never a."""
    for step in (7919, 7907, 7901, 7883, 101, 37, 13):
        offsets = {step * k % people for k in range(1, Size.notes_per_author + 1)}
        if len(offsets) == Size.notes_per_author and 0 not in offsets:
            return step
    raise ValueError(f"no stride for {people} people")


def generation_steps(size: Size) -> list[tuple[str, str]]:
    """(label, SQL) to fill a freshly migrated database."""
    now = f"TIMESTAMP '{NOW:%Y-%m-%d %H:%M}'"
    start, end = NOW - timedelta(days=3, hours=3), NOW - timedelta(days=3) + timedelta(hours=5)
    step = stride(size.people)
    # Event notes fall within the event; the others anywhere in the two years before NOW, on whole minutes.
    return [
        ("users", f"""
            INSERT INTO users (id, public_id, email, password_hash, name, headline, "values", can_help_with,
                               looking_for, timezone, share_email, email_prompts, prompt_hour, created_at,
                               email_confirmed_at)
            SELECT g, md5('public' || g), 'person' || g || '@scale.example', '!',
                   {_pick('first', "g || 'f'")} || ' ' || {_pick('last', "g || 'l'")},
                   {_pick('headline', "g || 'h'")}, '["curiosity", "craft"]', 'Reading a CV with fresh eyes',
                   'A first job in a kind team', {_pick('timezone', "g || 'z'")}, g % 3 = 0, true, 9,
                   {now} - interval '800 days', {now} - interval '800 days'
            FROM generate_series(1, {size.people}) g;
            SELECT setval(pg_get_serial_sequence('users', 'id'), {size.people})"""),
        ("badges", """
            INSERT INTO badges (user_id, token, short_code, created_at)
            SELECT id, md5('token' || id) || md5('badge' || id),
                   (SELECT string_agg(substr('23456789ABCDEFGHJKMNPQRSTVWXYZ', ((id / (30 ^ i)::bigint) % 30 + 1)::int, 1),
                                      '' ORDER BY i) FROM generate_series(0, 7) i),
                   created_at
            FROM users"""),
        ("event", f"""
            INSERT INTO events (id, name, venue, description, starts_at, ends_at, timezone, join_code, created_at)
            VALUES (1, 'Autumn Careers Fair', 'Main Hall', '', TIMESTAMP '{start:%Y-%m-%d %H:%M}',
                    TIMESTAMP '{end:%Y-%m-%d %H:%M}', 'Europe/Berlin', 'FAIR2026', {now} - interval '60 days');
            SELECT setval(pg_get_serial_sequence('events', 'id'), 1);
            INSERT INTO event_organizers (event_id, user_id) VALUES (1, {ORGANIZER});
            INSERT INTO event_attendees (event_id, user_id, joined_at)
            SELECT 1, g, {now} - interval '10 days' FROM generate_series(1, {size.attendees}) g"""),
        ("notes", f"""
            INSERT INTO notes (id, author_id, subject_id, body, offer, met_at, created_at, updated_at,
                               followed_up_at, offer_done_at, event_id)
            SELECT gen_random_uuid()::text, a, (a - 1 + k * {step}) % {size.people} + 1,
                   'Talked about ' || {_pick('topic', "a || ':' || k || 't'")} || '. '
                       || {_pick('detail', "a || ':' || k || 'd'")},
                   offer, met, met, met, followed, CASE WHEN offer <> '' THEN followed END,
                   CASE WHEN at_event THEN 1 END
            FROM generate_series(1, {size.people}) a, generate_series(1, 10) k,
                 LATERAL (SELECT a <= {size.attendees} AND k <= 3 AS at_event,
                                 CASE WHEN abs(hashtext(a || ':' || k || 'o')) % 5 < 2
                                      THEN {_pick('offer', "a || ':' || k || 'p'")} ELSE '' END AS offer) o,
                 LATERAL (SELECT CASE WHEN at_event
                                      THEN TIMESTAMP '{start:%Y-%m-%d %H:%M}'
                                           + make_interval(mins => abs(hashtext(a || ':' || k)) % 480)
                                      ELSE {now} - make_interval(mins => 60 + abs(hashtext(a || ':' || k))
                                                                        % (730 * 24 * 60)) END AS met) m,
                 LATERAL (SELECT CASE WHEN abs(hashtext(a || ':' || k || 'u')) % 10 < 3
                                       AND met < {now} - interval '3 days'
                                      THEN met + interval '3 days' END AS followed) f"""),
        # A digest the next morning, an offer check (or, without an offer, a snoozed reminder) a week
        # later and a reconnect after 30 days. Those due before NOW are history; the rest wait.
        ("prompts", f"""
            INSERT INTO prompts (user_id, note_id, kind, group_key, due_at, status, next_attempt_at, attempts,
                                 sent_at, last_error, action, acted_at, created_at)
            SELECT n.author_id, n.id, kind, group_key, due, status, due, CASE WHEN status = 'pending' THEN 0
                   WHEN status = 'failed' THEN 3 ELSE 1 END,
                   CASE WHEN status = 'sent' THEN due + interval '1 minute' END,
                   CASE WHEN status = 'failed' THEN 'SMTPRecipientsRefused: 550 mailbox unavailable' END,
                   CASE WHEN status = 'sent' AND h % 5 = 0 THEN 'done' END,
                   CASE WHEN status = 'sent' AND h % 5 = 0 THEN due + interval '1 day' END, n.created_at
            FROM notes n, generate_series(1, 3) k,
                 LATERAL (SELECT abs(hashtext(n.id || k)) AS h) hh,
                 LATERAL (SELECT CASE k WHEN 1 THEN 'digest' WHEN 2 THEN
                                     CASE WHEN n.offer <> '' THEN 'offer_check' ELSE 'reminder' END
                                     ELSE 'reconnect' END AS kind,
                                 CASE WHEN k = 1 THEN 'digest:' || n.author_id || ':' ||
                                     CASE WHEN n.event_id IS NULL THEN n.met_at::date::text
                                          ELSE 'event:' || n.event_id END END AS group_key,
                                 date_trunc('day', n.met_at) + interval '9 hours'
                                     + CASE k WHEN 1 THEN interval '1 day' WHEN 2 THEN interval '7 days'
                                              ELSE interval '30 days' END AS due) d,
                 LATERAL (SELECT CASE WHEN due >= {now} THEN 'pending' WHEN h % 20 < 16 THEN 'sent'
                                      WHEN h % 20 < 18 THEN 'cancelled' WHEN h % 20 < 19 THEN 'skipped'
                                      ELSE 'failed' END AS status) s"""),
        # The work for the timed pass: one digest of each of the first `due` authors, due now.
        ("due prompts", f"""
            UPDATE prompts SET status = 'pending', due_at = TIMESTAMP '{DUE_AT:%Y-%m-%d %H:%M}',
                   next_attempt_at = TIMESTAMP '{DUE_AT:%Y-%m-%d %H:%M}', attempts = 0, sent_at = NULL,
                   last_error = NULL, action = NULL, acted_at = NULL, group_key = 'digest:' || user_id || ':due'
            WHERE id IN (SELECT min(id) FROM prompts WHERE kind = 'digest' AND user_id <= {size.due}
                         GROUP BY user_id)"""),
    ]


SECONDARY_INDEXES = """SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
                       AND tablename IN ('notes', 'prompts') AND indexname NOT IN (SELECT conname FROM pg_constraint)"""
REARM = f"""UPDATE prompts SET status = 'pending', attempts = 0, sent_at = NULL, claimed_at = NULL,
                claim_token = NULL, last_error = NULL WHERE due_at = TIMESTAMP '{DUE_AT:%Y-%m-%d %H:%M}'"""


# --- the database ------------------------------------------------------------------------------------

def admin_engine(url) -> sa.Engine:
    return sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def mark_of(admin: sa.Engine, name: str) -> str | None:
    """The comment on database `name` ('' when it has none), or None when there is no such database."""
    with admin.connect() as conn:
        row = conn.execute(sa.text("SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database "
                                   "WHERE datname = :n"), {"n": name}).first()
    return None if row is None else row[0]


def prepare(url, scale: str, reuse: bool) -> dict[str, float]:
    """Create (or, with reuse, find) the database at this size; returns seconds per generation step."""
    name, admin = url.database, admin_engine(url)
    mark = mark_of(admin, name)
    if mark is not None and not mark.startswith(MARK.format("")):
        raise SystemExit(f"database {name!r} exists and was not made by this script: name another one")
    env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False), "SECRET_KEY": "bench"}
    if reuse and mark == MARK.format(scale):
        flask_cli(env, "db", "upgrade")  # picks up migrations added since (new indexes)
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(REARM)  # the previous run's pass sent them
        engine.dispose()
        return {}
    if reuse:
        print(f"nothing to reuse ({name!r} is {'missing' if mark is None else mark!r}): generating")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        # Marked at once, so that an interrupted generation is replaced next time (but never reused).
        conn.execute(sa.text(f"COMMENT ON DATABASE \"{name}\" IS '{MARK.format(scale + ' (incomplete)')}'"))
    admin.dispose()
    flask_cli(env, "db", "upgrade")
    seconds = {}
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        # Straight to psycopg: without parameters it runs several statements and leaves % alone.
        raw = conn.connection.dbapi_connection
        # Bulk-load settings, this session only: a crash just loses generated rows; the rows are made to satisfy
        # the foreign keys, so their per-row checks are off (needs a superuser); the big tables' secondary
        # indexes are dropped and built once at the end, which is several times faster than row by row.
        raw.execute("SET synchronous_commit = off; SET session_replication_role = replica; "
                    "SET maintenance_work_mem = '256MB'")
        indexes = raw.execute(SECONDARY_INDEXES).fetchall()
        for index, _ in indexes:
            raw.execute(f'DROP INDEX "{index}"')
        rebuild = ("indexes", ";\n".join(definition for _, definition in indexes))
        for label, sql in generation_steps(SIZES[scale]) + [rebuild]:
            started = time.perf_counter()
            raw.execute(sql)
            raw.commit()
            seconds[label] = time.perf_counter() - started
            print(f"  {label}: {seconds[label]:.1f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        started = time.perf_counter()
        conn.exec_driver_sql("VACUUM ANALYZE")
        seconds["vacuum analyze"] = time.perf_counter() - started
        conn.exec_driver_sql(f"COMMENT ON DATABASE \"{name}\" IS '{MARK.format(scale)}'")
    engine.dispose()
    return seconds


def drop(url) -> None:
    admin = admin_engine(url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


# --- measuring through the app ------------------------------------------------------------------------

class Recorder:
    """Keeps the SQL statements the app sends while it is on."""

    def __init__(self, engine: sa.Engine):
        self.statements: list[tuple[str, object]] = []
        self.on = False
        sa.event.listen(engine, "before_cursor_execute", self._keep)

    def _keep(self, _conn, _cursor, statement, parameters, _context, executemany):
        if self.on and not executemany:
            self.statements.append((statement, parameters))

    def take(self, action):
        """(what action() returns, the statements it sent)."""
        self.statements, self.on = [], True
        try:
            return action(), self.statements
        finally:
            self.on = False


def signed_in(app, user_id: int):
    """A test client signed in as the user through a server-side session row, as /login makes one."""
    from relbuild.services.accounts import start_session
    from relbuild.extensions import db
    from relbuild.models import User

    with app.app_context():
        session_id = start_session(db.session.get(User, user_id)).session_id
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = session_id, True
    return client


def time_page(client, path: str, repeats: int) -> dict:
    """Fastest, median and p95 of `repeats` GETs after two warm-up requests."""
    times = []
    for n in range(repeats + 2):
        started = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}")
        if n >= 2:
            times.append(elapsed * 1000)
    times.sort()
    return {"min_ms": round(times[0], 1), "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(percentile(times, 95), 1),
            "bytes": len(response.data)}


# --- query plans ----------------------------------------------------------------------------------------

IN_LIST = re.compile(r"\((?:%\(\w+\)s(?:, )?)+\)")
SELECT_LIST = re.compile(r"^SELECT [^()]*? FROM")  # a plain column list, shortened in the report
SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")
INDEX_USED = re.compile(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)")


def explain_all(engine: sa.Engine, recorded: dict[str, list], seqscan_off: bool) -> list[dict]:
    """EXPLAIN (ANALYZE, BUFFERS) each distinct recorded statement, in one transaction rolled back."""
    plans = []
    with engine.connect() as conn:
        if seqscan_off:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql(REARM)  # the pass's statements are explained over the work it found
        for label, statements in recorded.items():
            seen = set()
            for statement, parameters in statements:
                key = IN_LIST.sub("(…)", statement)
                if key in seen or not any(re.search(rf"\b{t}\b", statement) for t in BIG_TABLES):
                    continue
                seen.add(key)
                text = "\n".join(row[0] for row in conn.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters))
                bad = sorted({t for t in SEQ_SCAN.findall(text) if t in BIG_TABLES})
                brief = SELECT_LIST.sub("SELECT … FROM", " ".join(key.split()), count=1)
                plans.append({"for": label, "sql": brief, "plan": text, "seq_scans": bad,
                              "indexes": sorted(set(INDEX_USED.findall(text))),
                              "ms": float(re.search(r"Execution Time: ([\d.]+) ms", text).group(1))})
        conn.rollback()
    return plans


# --- main ------------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=("small", "full"), default="small",
                        help="small: 10,000 notes; full: 100,000 people, 1M notes, 3M prompts (default small)")
    parser.add_argument("--smoke", action="store_true", help="200 people and 2,000 notes: a few seconds")
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"the database to make (default {DEFAULT_URL})")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure a database kept by an earlier run of "
                                                             "the same size instead of generating it again")
    parser.add_argument("--plans", action="store_true", help="print every query plan in full")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    scale = "smoke" if args.smoke else args.scale
    size = SIZES[scale]
    url = make_url(args.database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    if not url.drivername.startswith("postgresql"):
        raise SystemExit("this benchmark needs PostgreSQL")
    if url.database in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to use the database {url.database!r}: name a scratch one")

    notes, prompts = size.people * size.notes_per_author, size.people * size.notes_per_author * size.prompts_per_note
    print(f"machine: {machine()}")
    print(f"size {scale}: {size.people:,} people, {notes:,} notes, {prompts:,} prompts, "
          f"{size.attendees:,} attendees at the event, {size.due:,} prompts due; database {url.database}")
    started = time.perf_counter()
    generation = prepare(url, scale, args.reuse)
    generated_in = time.perf_counter() - started
    try:
        with SMTPServer() as smtp:
            results = measure(url, size, smtp, seqscan_off=scale != "full")
    finally:
        if not args.keep:
            drop(url)
    results.update(scale=scale, machine=machine(), size={"people": size.people, "notes": notes, "prompts": prompts,
                                                         "attendees": size.attendees, "due": size.due},
                   generation_s={k: round(v, 1) for k, v in generation.items()},
                   prepare_s=round(generated_in, 1))
    report(results, args.plans)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if results["ok"] else 1


def measure(url, size: Size, smtp: SMTPServer, seqscan_off: bool) -> dict:
    env = {"DATABASE_URL": url.render_as_string(hide_password=False), "SECRET_KEY": "bench",
           "BASE_URL": "https://relbuild.example", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port),
           "SMTP_SECURITY": "none"}
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    from relbuild import create_app
    from relbuild.extensions import db, limiter
    from relbuild.models import Note, User
    from relbuild.services.delivery import send_due

    app = create_app()
    limiter.enabled = False
    with app.app_context():
        engine = db.engine
        subject = db.session.scalar(sa.select(User).join(Note, Note.subject_id == User.id)
                                    .where(Note.author_id == ATTENDEE).order_by(Note.met_at.desc()).limit(1))
        query = subject.name.split()[0]
        db.session.remove()
    recorder = Recorder(engine)
    attendee, organizer = signed_in(app, ATTENDEE), signed_in(app, ORGANIZER)
    pages = {"/people": (attendee, "/people"), "/people?q=": (attendee, f"/people?q={query}"),
             "dashboard": (organizer, "/events/1/dashboard")}

    # Only this database's PostgreSQL backends count as ours: other work on the same server counts as other load.
    busy, mine, postgres = machine_busy(), self_cpu(), cpu_of_command("postgres", url.database)
    smtp_cpu = sum(process_tree_cpu(smtp.process.pid).values())
    window = time.perf_counter()
    times, recorded = {}, {}
    for label, (client, path) in pages.items():
        times[label] = time_page(client, path, size.repeats)
        _, recorded[label] = recorder.take(lambda: client.get(path))
    with app.app_context():
        started = time.perf_counter()
        result, recorded["follow-up pass"] = recorder.take(lambda: send_due(NOW))
        elapsed = time.perf_counter() - started
        db.session.remove()
    window = time.perf_counter() - window
    other = (machine_busy() - busy - (self_cpu() - mine) - (cpu_of_command("postgres", url.database) - postgres)
             - (sum(process_tree_cpu(smtp.process.pid).values()) - smtp_cpu))
    received, recipients, _ = smtp.stats()
    times["follow-up pass"] = {"seconds": round(elapsed, 2), "sent": result.sent,
                               "messages_per_s": round(result.sent / elapsed, 1)}
    plans = explain_all(engine, recorded, seqscan_off)
    engine.dispose()
    delivered = result.sent == size.due == received == len(recipients)
    # What the big tables' queries cost in the server (EXPLAIN ANALYZE): less at the mercy of other load.
    database_ms = {label: round(sum(p["ms"] for p in plans if p["for"] == label), 2) for label in recorded}
    return {"query": query, "times": times, "plans": plans, "database_ms": database_ms, "seqscan_off": seqscan_off,
            "other_cpu_cores": round(max(0.0, other) / window, 2), "received": received,
            "ok": delivered and not any(p["seq_scans"] for p in plans)}


def report(results: dict, full_plans: bool) -> None:
    print(f"prepared in {results['prepare_s']:.1f} s " + (f"({results['generation_s']})" if results["generation_s"]
                                                         else "(reused)"))
    for label, t in results["times"].items():
        if "median_ms" in t:
            print(f"  {label:<16} median {t['median_ms']:7.1f} ms   p95 {t['p95_ms']:7.1f} ms"
                  f"   min {t['min_ms']:7.1f} ms"
                  f"   {t['bytes']:,} bytes; in PostgreSQL {results['database_ms'][label]:.1f} ms")
        else:
            print(f"  {label:<16} {t['sent']:,} sent in {t['seconds']:.2f} s = {t['messages_per_s']:,.0f} messages/s "
                  f"(SMTP server received {results['received']:,}); in PostgreSQL, one batch of each statement "
                  f"{results['database_ms'][label]:.1f} ms")
    print(f"  search: q={results['query']!r}; other processes used {results['other_cpu_cores']:.2f} cores meanwhile")
    if results["other_cpu_cores"] > 0.25:
        print("warning: other processes used CPU during the measurement: times are high; run again on a quiet machine")
    note = " (enable_seqscan off: could an index serve each query?)" if results["seqscan_off"] else ""
    print(f"\nquery plans{note}:")
    for plan in results["plans"]:
        verdict = f"SEQ SCAN on {', '.join(plan['seq_scans'])}" if plan["seq_scans"] else "ok"
        print(f"- [{plan['for']}] {plan['ms']:.2f} ms, {verdict}; indexes: {', '.join(plan['indexes']) or '-'}")
        print(f"    {plan['sql'][:200]}")
        if full_plans or plan["seq_scans"]:
            print("    " + plan["plan"].replace("\n", "\n    "))
    print("\nOK" if results["ok"] else "\nFAILED: a sequential scan on a big table, or an email missing (see above)")


if __name__ == "__main__":
    sys.exit(main())
