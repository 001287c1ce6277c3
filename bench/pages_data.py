"""The data bench/pages.py measures: one event built by ``bench.common.build_event``
and a user with thousands of contacts, and the pages to ask for."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from bench.common import _chunks, build_event

TAGS = (("colleagues", 90), ("clients", 30), ("investors", None), ("friends", None), ("refer a client", None))


@dataclass(frozen=True)
class Site:
    """One copy of the data: an event's organizer and a user with many contacts."""

    organizer: str  # User.get_id(): what a session stores
    event: str  # its slug
    keeper: str
    tag_id: int


def give_contacts(session, owner_id: int, count: int, people: list[int], event_id: int, seed: int = 11) -> int:
    """``count`` contacts for ``owner_id`` (a fifth linked to ``people``, the rest imported),
    about a third tagged, cadence tags with reminders, a few waiting for a follow-up. Returns a tag id."""
    from webapp.models import Contact, Tag, contact_tag

    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    tags = [Tag(owner_id=owner_id, name=name, cadence_days=days) for name, days in TAGS]
    session.add_all(tags)
    session.flush()
    rows, tagged = [], []
    for n in range(count):  # the same shape at every size: every 50th waiting, every 13th tag-ish
        touched = now - timedelta(days=rng.uniform(1, 900)) if n % 10 != 9 else None
        mine = [t for i, t in enumerate(tags) if (n * 7 + i * 3) % 13 == 0]
        cadence = min((t.cadence_days for t in mine if t.cadence_days), default=None)
        row = {"owner_id": owner_id, "last_touched_at": touched, "created_at": now - timedelta(days=1000),
               "updated_at": touched or now, "state": "new" if n % 50 == 0 else "done",
               "next_reminder_at": (touched or now) + timedelta(days=cadence) if cadence else None,
               "note": "Talked about solar storage and hiring" if n % 5 == 1 else ""}
        if n % 5 == 0 and n // 5 < len(people):
            row.update(user_id=people[n // 5], source="scan", event_id=event_id, met_at=touched)
        else:
            row.update(source="import", name=f"Friend {n:05d}", email=f"friend{n}@example.org",
                       company=f"Firm {n % 173}", headline=f"Title {n % 61}")
        rows.append(row)
        tagged.append(mine)
    for chunk in _chunks(rows):
        session.execute(insert(Contact), chunk)
    ids = session.scalars(select(Contact.id).where(Contact.owner_id == owner_id).order_by(Contact.id)).all()
    links = [{"contact_id": cid, "tag_id": t.id} for cid, mine in zip(ids, tagged, strict=True) for t in mine]
    for chunk in _chunks(links):
        session.execute(insert(contact_tag), chunk)
    session.commit()
    return tags[0].id


def build(session, attendees: int, scans: int, contacts: int, seed: int) -> Site:
    from webapp.models import Event, User

    world = build_event(session, attendees, scans, seed=seed)
    keeper = User(email=f"keeper-{world.event_id}@bench.example", name="Kim Keeper", email_verified=True)
    session.add(keeper)
    session.flush()
    tag_id = give_contacts(session, keeper.id, contacts, world.user_ids, world.event_id, seed)
    organizer = session.get(User, world.organizer_id)
    return Site(organizer.get_id(), session.get(Event, world.event_id).slug, keeper.get_id(), tag_id)


def pages(site: Site, size: str) -> list[tuple[str, str, str, bool]]:
    """(label, who, path, has a target); the first is the baseline."""
    ev, few = f"/events/{site.event}", "0001" if size == "tiny" else "001"
    return [
        ("trivial page /profile", "organizer", "/profile", False),
        ("dashboard", "organizer", f"{ev}/dashboard", True),
        ("stats.json", "organizer", f"{ev}/stats.json", True),
        ("attendee list", "organizer", f"{ev}/attendees", True),
        ("attendee search", "organizer", f"{ev}/attendees?q=person+{few}", True),
        ("contacts", "keeper", "/contacts", True),
        ("contacts search", "keeper", f"/contacts?q=friend+{few}", True),
        ("contacts by tag", "keeper", f"/contacts?tag={site.tag_id}", True),
        ("contacts losing touch", "keeper", "/contacts/losing-touch", False),
        ("follow-ups", "keeper", "/follow-ups", False),
        ("home", "keeper", "/", False),
    ]
