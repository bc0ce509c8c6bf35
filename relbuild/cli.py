"""Command line: `flask --app app followups send-due|preview|worker|status`."""
from __future__ import annotations

import re
import signal
import time
from datetime import datetime, timedelta, timezone

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .extensions import db
from .models import utcnow
from .services.delivery import coming_up, send_due, status
from .services.profiles import zone

followups = AppGroup("followups", help="Send follow-up prompts.")


RELATIVE = re.compile(r"\+(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")
NOW_HELP = "Pretend it is this time: ISO 8601 (UTC unless an offset is given) or ahead of now, e.g. +2d, +36h, +1d2h."


def _parse_now(value: str | None) -> datetime | None:
    if not value:
        return None
    relative = RELATIVE.fullmatch(value.strip())
    if relative and any(relative.groups()):
        days, hours, minutes = (int(part or 0) for part in relative.groups())
        return utcnow() + timedelta(days=days, hours=hours, minutes=minutes)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use ISO 8601, e.g. 2026-11-30T09:30 or 2026-11-30T09:30+01:00, "
                                 "or a time ahead of now such as +2d or +36h")
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


@followups.command("send-due")
@click.option("--now", "now_text", metavar="TIME", help=NOW_HELP)
def send_due_command(now_text: str | None) -> None:
    """Send every prompt that is due, once."""
    now = _parse_now(now_text)
    result = send_due(now)
    click.echo(result.line())
    for error in result.errors[-5:]:
        click.echo(f"  last error: {error}", err=True)
    if not (result.sent or result.failed or result.retrying):
        upcoming = coming_up(now, limit=1)
        when = _utc(now or utcnow())
        if upcoming:
            click.echo(f"Nothing was due at {when}. The next prompt is due at {_utc(upcoming[0][0])}; "
                       f"`flask followups preview` lists what comes next.")
        else:
            click.echo(f"Nothing was due at {when}, and nothing is scheduled: write a note first.")


@followups.command("preview")
@click.option("--now", "now_text", metavar="TIME", help=NOW_HELP)
def preview_command(now_text: str | None) -> None:
    """What the worker will send next, and when (sends nothing)."""
    upcoming = coming_up(_parse_now(now_text))
    if not upcoming:
        click.echo("Nothing is scheduled: write a note first.")
        return
    for due, prompt, count in upcoming:
        local = due.replace(tzinfo=timezone.utc).astimezone(zone(prompt.user))
        covers = f" ({count} notes)" if count > 1 else ""
        click.echo(f"{_utc(due)}  {prompt.kind}{covers} to {prompt.user.email} "
                   f"({local:%a %-d %b %H:%M} {prompt.user.timezone})")
    first = upcoming[0][0] + timedelta(minutes=1)
    click.echo(f"To send the first now: flask --app app followups send-due --now {first:%Y-%m-%dT%H:%M}")


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
@click.option("--now", "now_text", metavar="TIME", help=NOW_HELP)
def status_command(now_text: str | None) -> None:
    """Backlog, failures and the last pass."""
    current = status(_parse_now(now_text))
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
    click.echo(f"links in emails point to: {current_app.config['BASE_URL']}")


def init_app(app: Flask) -> None:
    app.cli.add_command(followups)
