"""Joining an event: by its public link, or by an organizer's personal invitation.

The public join link (``/join/<join_code>``) asks for an email and sends an
ordinary sign-in link that comes back to the join page; one tap then joins.

A personal invitation is an emailed link that signs the person in (through a
confirm button, so mail scanners that open links change nothing) and joins
them. It is single-purpose (it signs in for this and nothing else), single-use,
and valid until the event ends or is cancelled; "sign out everywhere" voids it
like any other link.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from webapp.extensions import db
from webapp.models import Attendance, Event, User, utcnow
from webapp.services import accounts, audit, events, mail, tokens

INVITE = "invite"
#: A cap on a link's age; the limit that matters is the event's end, checked on every use.
MAX_AGE = 400 * 24 * 3600


@dataclass(frozen=True)
class Invitation:
    event: Event
    user: User
    invited_at: datetime


def check_joinable(event: Event, *, by_link: bool = True) -> None:
    """Raise :class:`EventClosed` unless people may join ``event`` now."""
    events.ensure_open(event, "take registrations")
    if event.ends_at <= utcnow():
        raise events.EventClosed("This event is over.")
    if by_link and not event.join_enabled:
        raise events.EventClosed("The organizers have closed this join link.")


def join(event: Event, user: User, *, listed: bool = False) -> Attendance:
    """Join through the event's public link (idempotent: joining twice is one attendance)."""
    attendance = events.attendance_of(user, event)
    if attendance is not None:
        return attendance
    check_joinable(event)
    return events.add_attendee(event, user, via="join", listed=listed)


def request_join_link(event: Event, email: str, name: str, next_path: str) -> None:
    """Email a sign-in link that comes back to the join page. An unknown
    address gets a new passwordless account; the caller can't tell which."""
    check_joinable(event)
    events.find_or_create_user(email, name)
    accounts.request_signin_link(email, next_path)


def invite(event: Event, inviter: User, email: str, name: str) -> User:
    """Email the person with ``email`` (an account is made if needed) a link
    that signs them in and joins them to ``event``."""
    check_joinable(event, by_link=False)
    user = events.find_or_create_user(email, name)
    audit.record(inviter, "event.invite", event=event, subject=f"user {user.id}")
    if user.is_disabled:
        return user  # the organizer sees the same answer; nothing is sent
    mail.queue(
        template="event_invitation", to=user.email, user=user,
        dedupe_key=f"invite:{event.id}:{user.id}:{secrets.token_hex(6)}",
        event=event, inviter=inviter, link=invitation_link(event, user, utcnow()),
    )
    return user


def invitation_link(event: Event, user: User, invited_at: datetime) -> str:
    """The personal link that signs ``user`` in and joins them to ``event``
    (valid until the event ends; see :func:`read_invitation`)."""
    token = tokens.make(INVITE, uid=user.id, sv=user.session_version, eid=event.id, at=int(invited_at.timestamp()))
    return mail.external_url("events.invitation", token=token)


def _checked(payload: dict) -> Invitation:
    event = db.session.get(Event, payload.get("eid"))
    user = db.session.get(User, payload.get("uid"))
    if event is None or user is None or user.session_version != payload.get("sv"):
        raise tokens.LinkError("This invitation is no longer valid.")
    if user.is_disabled:
        raise accounts.AccountDisabled("This account has been disabled. Contact the organizers.")
    if event.cancelled_at is not None:
        raise tokens.LinkError("This event was cancelled, so its invitations no longer work.")
    if event.ends_at <= utcnow():
        raise tokens.LinkExpired("This invitation has expired: the event is over.")
    return Invitation(event, user, datetime.fromtimestamp(payload.get("at", 0), UTC))


def read_invitation(token: str) -> Invitation:
    """What an invitation link is for, without spending it (for its confirm page)."""
    return _checked(tokens.read(INVITE, token, MAX_AGE))


def accept_invitation(token: str) -> tuple[Invitation, Attendance]:
    """Spend the link: it proves the address, records the sign-in (the caller
    logs the user in) and joins them to the event, once."""
    invitation = read_invitation(token)
    tokens.spend(INVITE, token, MAX_AGE)
    user = invitation.user
    if not user.email_verified:
        user.password_hash = None  # chosen by someone who never proved they own the address
    user.email_verified = True
    accounts.record_login(user)
    attendance = events.add_attendee(invitation.event, user, via="invite", invited_at=invitation.invited_at)
    return invitation, attendance
