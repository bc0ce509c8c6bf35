"""Command line: `flask --app app followups send-due|worker|status`."""
from __future__ import annotations

import signal
import time
from datetime import datetime, timezone

import click
from flask import Flask
from flask.cli import AppGroup

from .extensions import db
from .services.delivery import send_due, status
from .services.throttle import forget_old as forget_old_failures

followups = AppGroup("followups", help="Send follow-up prompts.")


def _parse_now(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use ISO 8601, e.g. 2026-11-30T09:30 or 2026-11-30T09:30+01:00")
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


@followups.command("send-due")
@click.option("--now", "now_text", metavar="ISO8601", help="Pretend it is this time (UTC unless an offset is given).")
def send_due_command(now_text: str | None) -> None:
    """Send every prompt that is due, once."""
    result = send_due(_parse_now(now_text))
    click.echo(result.line())
    for error in result.errors[-5:]:
        click.echo(f"  last error: {error}", err=True)


@followups.command("worker")
@click.option("--interval", default=30.0, show_default=True, help="Seconds between passes.")
def worker_command(interval: float) -> None:
    """Send due prompts every INTERVAL seconds until stopped (Ctrl-C or SIGTERM)."""
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    click.echo(f"follow-up worker: a pass every {interval:g}s")
    try:
        while not stopping:
            try:
                result = send_due()
                forget_old_failures()  # housekeeping for the wrong-password counts
                if result.sent or result.failed or result.retrying:
                    click.echo(f"{datetime.now():%H:%M:%S} {result.line()}")
            except Exception as error:  # keep looping: a database blip must not stop follow-ups
                click.echo(f"pass failed: {error.__class__.__name__}: {error}", err=True)
                db.session.rollback()
            deadline = time.monotonic() + interval
            while not stopping and time.monotonic() < deadline:
                time.sleep(min(0.5, interval))
    except KeyboardInterrupt:
        pass
    click.echo("follow-up worker stopped")


@followups.command("status")
def status_command() -> None:
    """Backlog, failures and the last pass."""
    current = status()
    click.echo(f"due now: {current.due_now}")
    click.echo(f"scheduled later: {current.scheduled}")
    click.echo(f"being sent: {current.sending}")
    click.echo(f"failed: {current.failed}")
    last = current.last_pass
    if last is None:
        click.echo("last pass: never")
    else:
        click.echo(f"last pass: {last.finished_at:%Y-%m-%d %H:%M:%S} UTC (sent {last.sent}, failed {last.failed}, "
                   f"retrying {last.retrying})")
        if last.last_error:
            click.echo(f"last error: {last.last_error}")


def init_app(app: Flask) -> None:
    app.cli.add_command(followups)
