"""``flask`` commands. Thin: parse, call a service, commit, print.

Every error is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
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
def send_due() -> None:
    """Run every due recap, nudge and digest once, deliver the outbox, exit."""
    from webapp.services import schedule

    counts = schedule.run_due()
    click.echo(" ".join(f"{key}={value}" for key, value in counts.items()))


def register(app: Flask) -> None:
    for cmd in (create_user, demo, send_due):
        app.cli.add_command(cmd)
