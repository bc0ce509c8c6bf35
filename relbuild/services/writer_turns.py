"""SQLite has one writer at a time: the app's writers take turns on a lock rather than in SQLite's busy handler.

When a write finds the database locked, SQLite's busy handler sleeps and tries again (1, 2, 5, 10… up to
100 ms between tries), so under load a write waits for a sleep to end long after the lock was free. Writers
here queue instead: threads of a process on a lock, processes (gunicorn workers, the follow-up worker) on
an advisory lock on a file beside the database, which the kernel hands over at once. Other databases take
care of concurrent writers themselves: there, this does nothing.
"""
from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager, nullcontext

import sqlalchemy as sa

_in_process = threading.Lock()
_lock_files: dict[tuple[int, str], int] = {}


def _lock_file(database: str) -> int:
    # One open file per process: a child forked with its parent's would share its lock, not wait for it.
    key = (os.getpid(), database)
    if key not in _lock_files:
        _lock_files[key] = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    return _lock_files[key]


@contextmanager
def _sqlite_turn(database: str | None):
    with _in_process:
        if not database or database == ":memory:" or database.startswith("file:"):
            yield
            return
        descriptor = _lock_file(os.path.abspath(database))
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # (waits without holding the GIL)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)


def writer_turn(connection: sa.Connection):
    """A context manager: hold it around a write transaction's statements and commit."""
    if connection.dialect.name != "sqlite":
        return nullcontext()
    return _sqlite_turn(connection.engine.url.database)
