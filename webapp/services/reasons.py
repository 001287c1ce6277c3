"""One concrete reason to get back in touch with a contact, drawn from real
data: keeping a relationship active is an action (invite them, help with what
they're looking for, share your news), not a guilt reminder.

Only what the contact shares now (:func:`people.card`) and the user's own data
are used. The reasons, best first:

1. ``together`` — an event in the next :data:`EVENT_HORIZON` that both attend;
2. ``invite`` — an event in that window the user attends;
3. ``looking_for`` — what the contact (a MeetLoop member) is looking for now;
4. ``headline`` — the contact's current headline and company;
5. ``news`` — the user's own current headline (share your news);
6. ``hello`` — how long it has been.

Imported and added contacts have no *current* profile (their fields are what
the user typed, maybe years ago), so reasons 3 and 4 are for members only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from webapp.extensions import db
from webapp.formatting import ago
from webapp.models import Attendance, Contact, Event, User
from webapp.services import cadences, events, people
from webapp.services.contacts import display_name

TOGETHER, INVITE, LOOKING_FOR, HEADLINE, NEWS, HELLO = "together", "invite", "looking_for", "headline", "news", "hello"
KINDS = (TOGETHER, INVITE, LOOKING_FOR, HEADLINE, NEWS, HELLO)
EVENT_HORIZON = timedelta(days=30)
#: One upcoming event would otherwise be every contact's reason: the most overdue get it.
MAX_INVITES = 3
_CLIP = 140


@dataclass(frozen=True)
class Reason:
    kind: str  # one of KINDS
    text: str
    event: Event | None = None


@dataclass(frozen=True)
class Context:
    """What reasons for one user may draw on: the events they attend in the
    next :data:`EVENT_HORIZON` (soonest first) and which of them each linked
    contact is registered for, as (event_id, user_id) pairs."""

    now: datetime
    events: tuple[Event, ...] = ()
    going: frozenset[tuple[int, int]] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Entry:
    """A due contact as listed in the digest and on the home page."""

    contact: Contact
    name: str
    headline: str
    company: str
    last_touch: datetime | None
    since: str  # "Last in touch 4 months ago"
    reason: Reason


def contexts(owner_ids: list[int], contacts: list[Contact], now: datetime) -> dict[int, Context]:
    """A :class:`Context` for each owner, for their ``contacts``, in two queries."""
    rows = db.session.execute(
        select(Attendance.user_id, Event).join(Event, Event.id == Attendance.event_id)
        .where(Attendance.user_id.in_(owner_ids), Event.cancelled_at.is_(None),
               Event.starts_at > now, Event.starts_at <= now + EVENT_HORIZON)
        .order_by(Event.starts_at, Event.id)
    ).all()
    upcoming: dict[int, list[Event]] = defaultdict(list)
    for owner_id, event in rows:
        upcoming[owner_id].append(event)
    linked = {c.user_id for c in contacts if c.user_id is not None}
    event_ids = {event.id for _owner, event in rows}
    going: frozenset[tuple[int, int]] = frozenset()
    if linked and event_ids:
        going = frozenset(tuple(row) for row in db.session.execute(
            select(Attendance.event_id, Attendance.user_id)
            .where(Attendance.event_id.in_(event_ids), Attendance.user_id.in_(linked))))
    return {owner_id: Context(now, tuple(upcoming[owner_id]), going) for owner_id in owner_ids}


def _day(event: Event) -> str:
    """``Thu 18 Jun``: the event's start in its own time zone."""
    local = events.local(event, event.starts_at)
    return f"{local:%a} {local.day} {local:%b}"


def _clip(text: str) -> str:
    text = " ".join(text.split()).rstrip(" .")
    return text if len(text) <= _CLIP else text[:_CLIP - 1].rstrip() + "…"


def _span(delta: timedelta) -> str:
    """``4 months``, ``2 weeks``, ``3 days``: how long, roughly, as people say it."""
    days = delta.days
    for size, one, unit in ((365, "a year", "years"), (30, "a month", "months"), (7, "a week", "weeks")):
        if days >= size:
            return one if days < 2 * size else f"{days // size} {unit}"
    return f"{days} days" if days >= 2 else "a day"


def _role(headline: str, company: str) -> str:
    headline, company = _clip(headline or ""), _clip(company or "")
    return f"{headline} at {company}" if headline and company else headline or f"at {company}"


def reason_for(user: User, contact: Contact, context: Context, *, invite: bool = True) -> Reason:
    """The best reason for ``user`` to get in touch with ``contact`` now
    (without "invite them" when ``invite`` is false)."""
    for event in context.events:
        if contact.user_id is not None and (event.id, contact.user_id) in context.going:
            return Reason(TOGETHER, f"You're both going to {event.name} on {_day(event)} — plan to meet.", event)
    if context.events and invite:
        event = context.events[0]
        return Reason(INVITE, f"Invite them to {event.name} on {_day(event)}.", event)
    card = people.card(contact.user) if contact.user is not None else None
    if card is not None and card.looking_for.strip():
        return Reason(LOOKING_FOR, f"They're looking for {_clip(card.looking_for)} — know someone?")
    if card is not None and (card.headline.strip() or card.company.strip()):
        return Reason(HEADLINE, f"They're now {_role(card.headline, card.company)} — ask how it's going.")
    if user.headline.strip() or user.company.strip():
        return Reason(NEWS, f"Share your news: you're now {_role(user.headline, user.company)}.")
    touched = cadences.last_touch(contact)
    if touched is None:
        return Reason(HELLO, "You haven't been in touch since you added them — say hello.")
    return Reason(HELLO, f"It's been {_span(context.now - touched)} since you were in touch "
                         "— say hello.")


def entries(user: User, contacts: list[Contact], context: Context) -> list[Entry]:
    """``contacts`` as ``user`` sees them in a due list, each with its reason;
    at most :data:`MAX_INVITES` of them get the "invite them" one."""
    listed, invites = [], 0
    for contact in contacts:
        item = entry(user, contact, context, invite=invites < MAX_INVITES)
        invites += item.reason.kind == INVITE
        listed.append(item)
    return listed


def entry(user: User, contact: Contact, context: Context, *, invite: bool = True) -> Entry:
    """``contact`` as ``user`` sees them in a due list, with the reason."""
    card = people.card(contact.user) if contact.user is not None else None
    touched = cadences.last_touch(contact)
    since = f"Last in touch {ago(touched, context.now)}" if touched else "No touch recorded yet"
    return Entry(
        contact=contact, name=display_name(contact) or contact.email,
        headline=card.headline if card else contact.headline, company=card.company if card else contact.company,
        last_touch=touched, since=since, reason=reason_for(user, contact, context, invite=invite),
    )


def due_list(user: User, now: datetime, limit: int | None = None) -> list[Entry]:
    """``user``'s contacts due at ``now``, the most overdue first, each with
    its reason (the home page's "Get back in touch")."""
    due = cadences.due(user, now, limit)
    context = contexts([user.id], due, now)[user.id]
    return entries(user, due, context)
