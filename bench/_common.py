"""Helpers shared by the benchmark scripts: ports, gunicorn, CPU accounting, percentiles, a local SMTP server,
scratch databases."""
from __future__ import annotations

import multiprocessing
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    return f"{os.cpu_count()} cores ({platform.machine()}), Python {platform.python_version()}, {platform.system()}"


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, int(round(pct / 100 * len(sorted_values) + 0.4999)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def flask_cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    """Run `flask --app app ARGS` in the project folder, as an operator would."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"`flask --app app {' '.join(args)}` failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done


def process_tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) used so far by a process and each of its direct children, by pid."""
    pids = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                pids.append(int(entry))
    used = {}
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[p] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return used


def cpu_of_command(name: str, word: str | None = None) -> float:
    """CPU seconds used so far by all processes whose command name is `name` (e.g. the PostgreSQL server).

    With `word`, only those whose command line has it as a word: a PostgreSQL backend's names its database,
    which tells one benchmark's database work from other work on the same server.
    """
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                comm, rest = stat.split("(", 1)[1].rsplit(")", 1)
                if comm != name or (word and word not in Path(f"/proc/{entry}/cmdline").read_text().split()):
                    continue
            except OSError:
                continue
            fields = rest.split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def machine_busy() -> float:
    """CPU seconds all processes on the machine have used so far (from /proc/stat), to spot other load."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def self_cpu() -> float:
    """CPU seconds (user + system) used so far by this process."""
    t = os.times()
    return t.user + t.system


class Gunicorn:
    """gunicorn from the venv serving `module:app` on a free loopback port; a context manager."""

    def __init__(self, target: str, env: dict, workers: int, threads: int, log_path: Path):
        self.target, self.env, self.workers, self.threads = target, env, workers, threads
        self.port = free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "--workers", str(self.workers), "--threads", str(self.threads),
                "--bind", f"127.0.0.1:{self.port}", "--pythonpath", str(BENCH), "--log-level", "warning",
                self.target]

    def __enter__(self) -> "Gunicorn":
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}:\n"
                                   + self.log_path.read_text()[-3000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            self.__exit__()
            raise RuntimeError(f"gunicorn did not start listening within 30 s; see {self.log_path}")
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def cpu(self) -> dict[int, float]:
        """CPU seconds used so far by gunicorn's master and each worker, by pid."""
        return process_tree_cpu(self.proc.pid)


def smtp_server(port: int, conn, delay: float = 0.0) -> None:
    """Accept every message on 127.0.0.1:port, `delay` seconds after its data arrived (a provider's pace);
    answer 'stats' with (messages, recipients, bytes received)."""
    import asyncio

    from aiosmtpd.controller import Controller

    class Counting:
        def __init__(self):
            self.messages = 0
            self.bytes = 0
            self.recipients: Counter = Counter()

        async def handle_DATA(self, server, session, envelope):
            if delay:
                await asyncio.sleep(delay)
            self.messages += 1
            self.bytes += len(envelope.content)
            self.recipients.update(envelope.rcpt_tos)
            return "250 Message accepted"

    handler = Counting()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    conn.send("ready")
    try:
        while True:
            command = conn.recv()
            if command == "stats":
                conn.send((handler.messages, dict(handler.recipients), handler.bytes))
            elif command == "stop":
                break
    finally:
        controller.stop()


class SMTPServer:
    """smtp_server in its own process, so it does not share the sender's GIL; a context manager."""

    def __init__(self, delay: float = 0.0, port: int | None = None):
        self.delay = delay
        self.port = port

    def __enter__(self) -> "SMTPServer":
        self.port = self.port or free_port()
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=smtp_server, args=(self.port, child, self.delay), daemon=True)
        self.process.start()
        if not self.conn.poll(30) or self.conn.recv() != "ready":
            raise RuntimeError("the SMTP server did not start")
        return self

    def stats(self) -> tuple[int, dict, int]:
        self.conn.send("stats")
        return self.conn.recv()

    def transport_ceiling(self, size: int, count: int) -> float:
        """Messages/s for `count` ready-made messages of `size` bytes over one connection: no app work at all."""
        import smtplib

        line = b"x" * 74 + b"\r\n"
        head = b"From: bench@localhost\r\nTo: ceiling@bench.example\r\nSubject: ceiling\r\n\r\n"
        raw = head + line * max(1, size // 76)
        smtp = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
        started = time.perf_counter()
        for n in range(count):
            smtp.sendmail("bench@localhost", [f"ceiling{n}@bench.example"], raw)
        elapsed = time.perf_counter() - started
        smtp.quit()
        return count / elapsed

    def __exit__(self, *exc) -> None:
        try:
            self.conn.send("stop")
        except OSError:
            pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()


class ScratchDatabase:
    """A SQLite file in a temporary folder, or a PostgreSQL database created here and dropped after (copies too)."""

    def __init__(self, url: str | None, prefix: str = "relbuild-bench-", keep_files: bool = False):
        self.tmp = Path(tempfile.mkdtemp(prefix=prefix))
        self.keep_files = keep_files  # the folder (a SQLite database, logs) stays after leaving
        if url and url.startswith(("postgres://", "postgresql://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        self.url = url or f"sqlite:///{self.tmp / 'bench.db'}"
        self.postgres = self.url.startswith("postgresql")
        self.made: list[str] = []  # PostgreSQL databases to drop when leaving

    def _admin(self, *statements: str) -> None:
        import sqlalchemy as sa
        from sqlalchemy.engine import make_url

        admin = sa.create_engine(make_url(self.url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
        admin.dispose()

    def __enter__(self) -> "ScratchDatabase":
        if self.postgres:
            import sqlalchemy as sa
            from sqlalchemy.engine import make_url

            self.name = make_url(self.url).database
            engine = sa.create_engine(make_url(self.url).set(database="postgres"))
            with engine.connect() as conn:
                exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": self.name})
            engine.dispose()
            if exists:
                raise SystemExit(f"database {self.name!r} already exists: name a new one, the benchmark "
                                 "creates it and drops it afterwards")
            self._admin(f'CREATE DATABASE "{self.name}"')
            self.made.append(self.name)
        return self

    def copy(self, suffix: str) -> str:
        """A copy of the database as it is now; its URL. Nothing may be connected to it meanwhile (PostgreSQL)."""
        if not self.postgres:
            import sqlite3

            with sqlite3.connect(self.tmp / "bench.db") as src, sqlite3.connect(self.tmp / f"{suffix}.db") as dst:
                src.backup(dst)  # the backup API: a consistent copy, WAL included
            return f"sqlite:///{self.tmp / f'{suffix}.db'}"
        name = f"{self.name}_{suffix}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
        self.made.append(name)
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def __exit__(self, *exc) -> None:
        if self.made:
            self._admin(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in reversed(self.made)))
        if not self.keep_files:
            shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def label(self) -> str:
        return "PostgreSQL" if self.postgres else "SQLite"


def seed_accounts(env: dict, accounts: list[dict], password: str) -> list[tuple[str, str]]:
    """Create accounts (User fields per dict), each with a badge; return their (email, badge token).

    Runs the app in this process on the benchmark's database (env: DATABASE_URL, SECRET_KEY, BASE_URL).
    """
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "SECRET_KEY", "BASE_URL")})
    sys.path.insert(0, str(ROOT))
    from relbuild import create_app
    from relbuild.extensions import db
    from relbuild.models import User
    from relbuild.services.accounts import hash_password
    from relbuild.services.badges import issue_badge

    app = create_app()
    password_hash = hash_password(password)  # scrypt is slow on purpose: hash once, share it
    with app.app_context():
        users = [User(password_hash=password_hash, **fields) for fields in accounts]
        db.session.add_all(users)
        db.session.flush()
        with db.session.no_autoflush:
            badges = [issue_badge(user) for user in users]
        db.session.commit()
        seeded = [(user.email, badge.token) for user, badge in zip(users, badges)]
        db.session.remove()
        db.engine.dispose()
    return seeded
