"""The follow-up inbox: drafted messages, what is still waiting, and the
one-click actions (mark followed up, snooze, keep in touch).

Recency ranks everything: the people met most recently come first, because a
follow-up within 48 hours is the one most likely to lead somewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Contact, Event, InteractionKind, User, utcnow
from webapp.models.contact import FollowUpState
from webapp.services import NotFound, ValidationFailed, cadences, people, tokens
from webapp.services.contacts import display_name
from webapp.services.mail import external_url

PURPOSE = "followup-action"
LINK_MAX_AGE = 14 * 24 * 3600  # the recap's links stay usable for two weeks

FOLLOWED_UP, SNOOZE, KEEP_IN_TOUCH = "followed-up", "snooze", "keep-in-touch"
ACTIONS = (FOLLOWED_UP, SNOOZE, KEEP_IN_TOUCH)
SNOOZE_DAYS = 3
CADENCES = (14, 30, 90, 180)  # "Keep in touch every…" choices, in days
DEFAULT_CADENCE = 30
MAX_DAYS = 365

# Intent chips (webapp/scan/forms.py INTENTS), stored as tags, → a concrete sentence.
INTENT_LINES = {
    "refer a client": "I may have a client who would be a good fit for you, and I'd be happy to make the connection.",
    "invite to an event": "I'm going to another event soon and would love for you to join me; I'll send the details.",
    "share an article": "Here is the article I mentioned: ",
    "introduce someone": "I'd be glad to introduce you to someone who could help{looking_for}.",
}


@dataclass(frozen=True)
class EmailEntry:
    """One contact in a recap or reminder email, as its owner may see them
    (templates/email/_person.*): who, the owner's note and tags, a drafted
    message and the signed one-click actions."""

    name: str
    headline: str
    company: str
    note: str
    tags: list[str]
    mailto: str
    draft_subject: str
    draft_body: str
    followed_up_url: str
    snooze_url: str
    keep_in_touch_url: str  # the person picks how often on the page it opens

    @property
    def role(self) -> str:
        """"Headline, Company", either alone, or ""."""
        return ", ".join(part for part in (self.headline, self.company) if part)


@dataclass(frozen=True)
class Draft:
    """A follow-up message ready to send. ``to`` is None when the other person
    does not share an email; ``mailto`` then has an empty recipient."""

    subject: str
    body: str
    mailto: str
    to: str | None


def _recipient(contact: Contact, card: people.Card | None) -> tuple[str, str | None, str]:
    """(name, email or None, looking_for): only what the other person shares."""
    if card is not None:
        return card.name, card.email, card.looking_for
    # Imported/manual entries: what the owner was given or typed in themselves.
    return contact.name, contact.email or None, ""


def _card(contact: Contact) -> people.Card | None:
    user = contact.user
    return people.card(user) if user is not None else None


def mailto(to: str | None, subject: str, body: str) -> str:
    """An RFC 6068 mailto: URL (line breaks as CRLF)."""
    body = body.replace("\r\n", "\n").replace("\n", "\r\n")
    return f"mailto:{quote(to or '', safe='@')}?subject={quote(subject, safe='')}&body={quote(body, safe='')}"


def draft(owner: User, contact: Contact) -> Draft:
    """A short personal message from ``owner`` to ``contact`` naming the event,
    the owner's note and intent tags, using only details the other person shares."""
    return _draft(owner, contact, _card(contact))


def _draft(owner: User, contact: Contact, card: people.Card | None, *, private: bool = True) -> Draft:
    """The draft; without ``private``, leaving out what only the owner may see
    (their note and tags), for someone else looking at what the owner gets."""
    name, email, looking_for = _recipient(contact, card)
    first = name.split()[0] if name.strip() else "there"
    event_name = contact.event.name if contact.event is not None else None
    lines = [f"Hi {first},", ""]
    opening = f"Great to meet you at {event_name}." if event_name else "Great to meet you."
    note = " ".join((contact.note or "").split())[:280].rstrip(" .") if private else ""
    if note:
        opening += f" I noted what we talked about: {note}."
    lines.append(opening)
    intents = {tag.name.strip().lower() for tag in contact.tags} if private else set()
    for key, line in INTENT_LINES.items():
        if key in intents:
            lines.append(line.format(looking_for=f" with {looking_for.rstrip('.')}" if looking_for else ""))
    if not intents & set(INTENT_LINES):
        lines.append("Would you be up for a quick call in the next couple of weeks?")
    lines += ["", "Best,", owner.name]
    subject = f"Great to meet you at {event_name}" if event_name else "Great to meet you"
    body = "\n".join(lines)
    return Draft(subject=subject, body=body, mailto=mailto(email, subject, body), to=email)


def email_entry(owner: User, contact: Contact, prefix: str | None = None, *, private: bool = True) -> EmailEntry:
    """``contact`` as listed in an email to ``owner`` (only what the other person shares).

    The three one-click actions share one signed token (each action still
    works once): a recap lists thousands of people, and signing was most of
    the cost of composing it. ``prefix`` is :func:`link_prefix`, for
    callers listing many people. Without ``private`` (an organizer previewing
    an attendee's recap) the owner's note and tags are left out and the
    actions link nowhere."""
    card = _card(contact)
    message = _draft(owner, contact, card, private=private)
    links = (prefix or link_prefix()) + _contact_token(contact) + "/" if private else "#"
    return EmailEntry(
        name=display_name(contact),
        headline=card.headline if card else contact.headline,
        company=card.company if card else contact.company,
        note=contact.note if private else "", tags=[t.name for t in contact.tags] if private else [],
        mailto=message.mailto, draft_subject=message.subject, draft_body=message.body,
        **({"followed_up_url": links + FOLLOWED_UP, "snooze_url": links + SNOOZE,
            "keep_in_touch_url": links + KEEP_IN_TOUCH} if private else
           {"followed_up_url": links, "snooze_url": links, "keep_in_touch_url": links}),
    )


def _waiting(owner_id: int, now: datetime):
    """Live contacts still to follow up: new, or snoozed and due again."""
    # The state IN (...) first: an index on (owner, deleted_at, state) then reads
    # only those two states' entries, not all of someone's 5,000 contacts.
    return and_(
        Contact.owner_id == owner_id,
        Contact.deleted_at.is_(None),
        Contact.state.in_((FollowUpState.NEW.value, FollowUpState.SNOOZED.value)),
        or_(Contact.state == FollowUpState.NEW.value, Contact.snoozed_until <= now),
    )


def _recency(contact: Contact) -> datetime:
    return contact.last_touched_at or contact.met_at or contact.created_at


def pending(owner: User, now: datetime | None = None) -> list[tuple[Event | None, list[Contact]]]:
    """Contacts waiting for a follow-up, grouped by the event where they were
    met; the group with the most recent meeting first, and most recent first within."""
    query = (
        select(Contact)
        .where(_waiting(owner.id, now or utcnow()))
        .options(selectinload(Contact.user), selectinload(Contact.event), selectinload(Contact.tags))
    )
    contacts = sorted(db.session.scalars(query), key=lambda c: (_recency(c), c.id), reverse=True)
    groups: dict[int | None, tuple[Event | None, list[Contact]]] = {}
    for contact in contacts:  # dicts keep insertion order: groups come out by their newest contact
        groups.setdefault(contact.event_id, (contact.event, []))[1].append(contact)
    return list(groups.values())


def pending_count(owner: User, now: datetime | None = None) -> int:
    """How many contacts :func:`pending` would list, in one COUNT query."""
    return db.session.scalar(select(func.count(Contact.id)).where(_waiting(owner.id, now or utcnow()))) or 0


def _days(days: int | None, default: int) -> int:
    days = default if days is None else days
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(f"Choose between 1 and {MAX_DAYS} days.", field="days")
    return days


def mark_followed_up(contact: Contact, now: datetime | None = None) -> None:
    """State followed_up, and a touch (the reminder clock restarts) at now."""
    now = now or utcnow()
    contact.state = FollowUpState.FOLLOWED_UP.value
    contact.followed_up_at = now
    contact.snoozed_until = None
    cadences.log_touch(contact, InteractionKind.FOLLOWED_UP, at=now)


def snooze(contact: Contact, days: int = SNOOZE_DAYS, now: datetime | None = None) -> None:
    """Hide from the inbox until now + ``days``; then it is pending again."""
    now = now or utcnow()
    contact.state = FollowUpState.SNOOZED.value
    contact.snoozed_until = now + timedelta(days=_days(days, SNOOZE_DAYS))
    contact.updated_at = now
    db.session.flush()


def keep_in_touch(contact: Contact, every_days: int, now: datetime | None = None) -> None:
    """Out of the inbox (state done) with its own cadence: reminded every
    ``every_days`` days after the last touch."""
    every_days = _days(every_days, DEFAULT_CADENCE)
    contact.state = FollowUpState.DONE.value
    contact.snoozed_until = None
    cadences.set_contact_cadence(contact, every_days)


def apply(contact: Contact, action: str, days: int | None = None, now: datetime | None = None) -> None:
    """Run ``action`` (one of ACTIONS) on ``contact``."""
    if action == FOLLOWED_UP:
        mark_followed_up(contact, now)
    elif action == SNOOZE:
        snooze(contact, _days(days, SNOOZE_DAYS), now)
    elif action == KEEP_IN_TOUCH:
        keep_in_touch(contact, _days(days, DEFAULT_CADENCE), now)
    else:
        raise NotFound("No such action.")


def _contact_token(contact: Contact, days: int | None = None) -> str:
    """A signed link token for the actions on ``contact``; the action is the
    URL's last segment. ``days`` fixes the snooze length or cadence."""
    if days is None:
        return tokens.make_ids(PURPOSE, contact.id, contact.owner_id)
    return tokens.make(PURPOSE, c=contact.id, o=contact.owner_id, d=_days(days, 1))


_MARK = "TOKEN"


def link_prefix() -> str:
    """``BASE_URL/f/``: what every action link is before its token (tokens
    are URL-safe, so appending one equals building the URL with it)."""
    return external_url("followups.link", token=_MARK).removesuffix(_MARK)



def action_link(contact: Contact, action: str, days: int | None = None) -> str:
    """Absolute signed single-use link to ``/f/<token>/<action>`` doing ``action`` on ``contact``."""
    if action not in ACTIONS:
        raise ValueError(f"unknown follow-up action {action!r}")
    return external_url("followups.link", token=_contact_token(contact, days), action=action)


def _resolve(payload: dict[str, Any], action: str | None) -> tuple[Contact, str, int | None]:
    """The contact and action of a link. Links signed before the action moved
    into the URL carry it in the payload, and their URL names none."""
    if "a" in payload:
        action = payload["a"] if action is None else None
    if "ids" in payload:
        payload = dict(zip(("c", "o"), payload["ids"], strict=False))
    contact = db.session.get(Contact, payload.get("c"))
    if contact is None or contact.owner_id != payload.get("o") or contact.deleted_at is not None:
        raise tokens.LinkError("This contact is no longer in your connections.")
    if action not in ACTIONS:
        raise tokens.LinkError("This link is not valid.")
    return contact, action, payload.get("d")


def preview(token: str, action: str | None = None) -> tuple[Contact, str, int | None]:
    """What the link ``/f/<token>[/<action>]`` will do, without doing it:
    (contact, action, days or None). Each action of a token works once."""
    return _resolve(tokens.read(PURPOSE, token, LINK_MAX_AGE, use=action), action)


def apply_action(token: str, named: str | None = None, days: int | None = None,
                 now: datetime | None = None) -> tuple[Contact, str]:
    """Spend the link (``named``: the action its URL names) and do what it says. ``days``
    is used only when the link carries none (a "Keep in touch every…" link lets the person choose)."""
    contact, action, linked_days = preview(token, named)
    days = linked_days if linked_days is not None else days
    if action != FOLLOWED_UP:
        _days(days, SNOOZE_DAYS if action == SNOOZE else DEFAULT_CADENCE)  # refuse before spending
    tokens.spend(PURPOSE, token, LINK_MAX_AGE, use=named)
    apply(contact, action, days, now)
    return contact, action
