"""``flask`` commands. Thin: parse, call a service, commit, print.

Every error is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db
from webapp.models import Role
from webapp.services import DomainError


class Command(click.Command):
    """A click command whose usage errors are a single ``Error: …`` line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise click.ClickException(exc.format_message()) from None


class UsageFailure(click.ClickException):
    exit_code = 2


def one_line(text: str) -> str:
    """The first line of an error text (driver errors run over several)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def command(name: str, **kwargs: Any) -> Callable:
    """``@command("x")``: a one-line-errors command in an app context whose
    :class:`DomainError` becomes ``Error: <message>`` and exit status 2; any
    other failure (say, a database that is unreachable or not migrated yet) is
    one ``Error:`` line and exit status 1."""

    def decorator(fn: Callable) -> click.Command:
        @functools.wraps(fn)
        def run(*args: Any, **kw: Any) -> Any:
            try:
                return fn(*args, **kw)
            except DomainError as exc:
                db.session.rollback()
                raise UsageFailure(exc.message) from None
            except (click.ClickException, click.exceptions.Exit, click.Abort):
                raise  # click's own ways out, already one line
            except SQLAlchemyError as exc:
                db.session.rollback()
                detail = one_line(str(getattr(exc, "orig", None) or exc))
                raise click.ClickException(
                    f"database: {detail} (is DATABASE_URL right, and has `flask db upgrade` run?)"
                ) from None
            except Exception as exc:
                db.session.rollback()
                raise click.ClickException(f"{type(exc).__name__}: {one_line(str(exc))}") from None

        return click.command(name, cls=Command, **kwargs)(with_appcontext(run))

    return decorator


@command("create-user")
@click.argument("email")
@click.option("--name", required=True, help="Display name.")
@click.option("--password", default=None, help="Omit for a passwordless (emailed link) account.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.ATTENDEE.value, show_default=True)
def create_user(email: str, name: str, password: str | None, role: str) -> None:
    """Create an active, verified account."""
    from webapp.services import accounts

    user = accounts.create_user(email, name, password=password, role=role, verified=True)
    db.session.commit()
    click.echo(f"Created {user.role} {user.email} (id {user.id})")


@command("demo")
def demo() -> None:
    """Seed the demo data once (running it again changes nothing)."""
    from webapp.services import demo as demo_service

    created = demo_service.seed()
    db.session.commit()
    click.echo("Demo data created." if created else "Demo data already present.")
    for login in demo_service.LOGINS:
        click.echo(f"  {login.role:<9} {login.email:<28} password: {login.password}")


@command("send-due")
@click.option("--one-process", is_flag=True,
              help="Deliver only after composing, in this process (by default a second process "
                   "delivers while recaps are composed, when the mail transport allows it).")
def send_due(one_process: bool) -> None:
    """Run every due recap, nudge and digest once, deliver the outbox, exit."""
    from webapp.services import outbox, schedule

    # What is loaded by now lives as long as the process: out of the garbage
    # collector's way, so rendering thousands of emails doesn't rescan it.
    gc.freeze()
    app = current_app._get_current_object()
    if one_process or not outbox.ParallelDelivery.possible(app.config):
        counts = schedule.run_due()
    else:
        with outbox.ParallelDelivery(app) as alongside:
            counts = schedule.run_due()  # the second process polls the outbox
        for key, value in vars(alongside.report).items():
            counts[key] += value
        counts["sent_by_second_process"] = alongside.report.sent
    click.echo(" ".join(f"{key}={value}" for key, value in counts.items()))


def _iso_time(value: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageFailure(f"{option} must be an ISO 8601 time such as 2026-05-14T18:30 (got {value!r})") from None


@command("create-event")
@click.argument("name")
@click.option("--organizer", "organizer_email", required=True, metavar="EMAIL", help="The owner's account email.")
@click.option("--starts", required=True, metavar="ISO",
              help="ISO 8601. With an offset it is converted; without one it is wall-clock time in --tz.")
@click.option("--ends", required=True, metavar="ISO", help="ISO 8601, like --starts.")
@click.option("--tz", "timezone", default="UTC", show_default=True, metavar="ZONE",
              help="IANA zone, e.g. Europe/Lisbon.")
@click.option("--venue", default="", help="Where it happens.")
@click.option("--description", default="", help="What it is about.")
def create_event(name: str, organizer_email: str, starts: str, ends: str, timezone: str, venue: str,
                 description: str) -> None:
    """Create an event; the last line printed is its reference (the slug in its URLs)."""
    from webapp.services import NotFound, accounts, events

    starts_at, ends_at = _iso_time(starts, "--starts"), _iso_time(ends, "--ends")
    organizer = accounts.find_by_email(organizer_email)
    if organizer is None:
        raise NotFound(f"No account with the email {organizer_email!r}: create it first with create-user.")
    event = events.create_event(organizer, name, starts_at, ends_at, timezone, venue=venue, description=description)
    db.session.commit()
    start = events.local(event, event.starts_at)
    click.echo(f"Created {event.name!r}, starting {start:%Y-%m-%d %H:%M} {event.timezone}, owned by {organizer.email}")
    click.echo(event.slug)


@command("add-attendee")
@click.argument("event_ref", metavar="EVENT")
@click.argument("email")
@click.option("--name", default="", help="Name for a new account (default: the part of the email before @).")
def add_attendee(event_ref: str, email: str, name: str) -> None:
    """Register EMAIL for EVENT (making a passwordless account if needed); the
    last line printed is their badge URL, the same every time."""
    from email_validator import EmailNotValidError, validate_email

    from webapp.services import badges, events

    event = events.get_by_ref(event_ref)
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise UsageFailure(f"{email!r} is not a valid email address: {exc}") from None
    events.ensure_open(event, "take registrations")
    attendance = events.add_attendee(event, events.find_or_create_user(email, name), via="cli")
    db.session.commit()
    click.echo(f"{attendance.user.email} attends {event.name!r} (badge code {attendance.badge_code})")
    click.echo(badges.badge_url(attendance))


@command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
def backup(path: Path, force: bool) -> None:
    """Copy the SQLite database to PATH while the app runs (on PostgreSQL:
    prints the pg_dump command to use instead, and exits 2)."""
    from webapp.services import backup as backup_service

    done = backup_service.backup(db.engine.url, path, force=force)
    click.echo(f"Backed up the database to {done.path} ({_size(done.size)}, {done.size} bytes)")


def _size(size: float) -> str:
    """``1.4 MB``: the largest unit that keeps the number under 1024."""
    unit = "bytes"
    for bigger in ("KB", "MB", "GB", "TB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"


def register(app: Flask) -> None:
    for cmd in (create_user, demo, send_due, create_event, add_attendee, backup):
        app.cli.add_command(cmd)
