"""The address book's list: search, filters, sorting, and one page of rows.

A page costs two statements however many contacts someone has: the
filters' choices (:func:`choices`), then the page's rows, each with its
tags, and how many there are (or, for a text search, whether there are
more). It reads only the columns a row shows, never whole contacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache

from sqlalchemy import Select, any_, bindparam, case, func, literal, null, or_, select, true, tuple_, union_all
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.models import Contact, Event, FollowUpState, Tag, User, contact_tag
from webapp.models.contact import own_search_text
from webapp.models.user import profile_search_text, search_text
from webapp.services.contacts import contains_text, like_pattern, needs_escape
from webapp.services.paging import Page

SORTS = {"recent": "Last in touch", "name": "Name", "due": "Reminder due", "met": "Recently met"}
MAX_SEARCH = 100
_TAG_SEPARATOR = "\x1f"  # never in a tag's name: names are whitespace-collapsed, and this counts as whitespace


@dataclass(frozen=True)
class Filters:
    """What the list is asked for. ``q`` is found in the name, headline and
    company (a MeetLoop member's *current* profile), the email they share,
    and the owner's own note; ``None`` filters mean "any"."""

    q: str = ""
    tag_id: int | None = None
    event_id: int | None = None
    state: str | None = None
    sort: str = "recent"

    @property
    def term(self) -> str:
        """The search as matched: whitespace collapsed, lower case, at most ``MAX_SEARCH`` characters."""
        return " ".join((self.q or "").split()).lower()[:MAX_SEARCH]

    @property
    def narrowed(self) -> bool:
        """Whether some people may be left out (a sort alone leaves everyone in)."""
        return bool(self.term) or self.tag_id is not None or self.event_id is not None or self.state in _STATES


@dataclass(frozen=True, slots=True)
class Listed:
    """One person as the list shows them."""

    id: int  # the contact's
    name: str  # a member's profile name, else the name (or email) given
    headline: str
    company: str
    member_id: int | None  # their MeetLoop account, if they are a member
    photo_version: int  # 0: no photo
    event_name: str | None  # where they were met
    in_touch_at: datetime | None  # the last touch, else when they were met
    created_at: datetime
    next_reminder_at: datetime | None
    tags: tuple[str, ...]  # by name

    @property
    def has_photo(self) -> bool:
        return self.member_id is not None and self.photo_version > 0


@dataclass(frozen=True)
class Choices:
    """What the list's filters offer: the owner's tags (id, name) by name, and
    the events where they met some of their live contacts (id, name), newest first."""

    tags: list[tuple[int, str]]
    events: list[tuple[int, str]]


_STATES = {s.value for s in FollowUpState}


def choices(owner: User) -> Choices:
    """The filters' choices for ``owner``'s list, in one statement."""
    tags, events = [], []
    for kind, item_id, name, sort_name, starts_at in db.session.execute(_choices_statement(), {"owner_id": owner.id}):
        (events if kind else tags).append((sort_name, starts_at, item_id, name))
    tags.sort(key=lambda tag: (tag[0], tag[2]))
    events.sort(key=lambda event: (event[1], event[2]), reverse=True)
    return Choices([(tag_id, name) for _, _, tag_id, name in tags],
                   [(event_id, name) for _, _, event_id, name in events])


# The list's statements are built once for each shape and reused, their values bound as
# parameters: building one costs more than running it on a page of an indexed book.
@cache
def _choices_statement() -> Select:
    """Tags then events (kind 0 and 1) with what each is ordered by: a tag's
    lower-cased name (as the database lowers it), an event's start."""
    tags = select(literal(0).label("kind"), Tag.id.label("id"), Tag.name.label("name"),
                  func.lower(Tag.name).label("sort_name"), null().label("starts_at")
                  ).where(Tag.owner_id == bindparam("owner_id"))
    events = _events_met_at()
    return union_all(tags, select(literal(1), events.c.id, events.c.name, null(), events.c.starts_at))


def _events_met_at():
    """The owner's events, found one at a time: the lowest event
    id above 0 among their live contacts, then the next above that, and so on,
    each one probe of ix_contact_owner_event however many contacts they have.

    Written as "the next (owner, event) pair after (owner, previous event)"
    so that only an index in that order can answer it: with ``owner_id = x``
    PostgreSQL would rather walk the index on (event, owner), through every
    owner's contacts of the events before.
    """
    owner_id = bindparam("owner_id")
    met = select(literal(0).label("event_id")).cte("met", recursive=True)
    later = aliased(Contact, name="later")
    after = (select(later.event_id)
             .where(tuple_(later.owner_id, later.event_id) > tuple_(owner_id, met.c.event_id),
                    later.owner_id <= owner_id, later.deleted_at.is_(None), later.event_id.is_not(None))
             .order_by(later.owner_id, later.event_id).limit(1).scalar_subquery())
    met = met.union_all(select(after).where(met.c.event_id.is_not(None)))
    return select(Event.id, Event.name, Event.starts_at).join(met, met.c.event_id == Event.id).subquery("met_at")


@dataclass(frozen=True)
class _Shape:
    """What decides the form of a list statement (everything else is a parameter)."""

    dialect: str
    sort: str
    searching: bool
    escaped: bool  # the search has a LIKE wildcard to escape
    tagged: bool
    by_event: bool
    by_state: bool
    counting: str  # "live" (every live contact), "window" (the matches, with the rows) or "peek" (one more row)


def _order(sort: str, contact, person) -> tuple:
    if sort == "name":
        return func.lower(func.coalesce(person.name, contact.name)), contact.id
    if sort == "due":
        return contact.next_reminder_at.asc().nulls_last(), contact.id
    if sort == "met":
        return contact.met_at.desc().nulls_last(), contact.id.desc()
    return func.coalesce(contact.last_touched_at, contact.met_at).desc().nulls_last(), contact.id.desc()


def _found_by_index(pattern, escape: str | None) -> Select:
    """PostgreSQL: ids of the owner's contacts matching the search, from the
    trigram indexes. Each index finds a superset (a member's contact entry may
    keep a name of its own, a profile has an email it may not share), which
    the same arm then checks field by field: the union is exactly the matches."""
    owned = Contact.owner_id == bindparam("owner_id")
    own_fields = search_text(Contact.headline, Contact.company, Contact.email, Contact.note)
    by_own_text = (select(Contact.id).where(owned, own_search_text().like(pattern, escape=escape),
                                            or_(Contact.user_id.is_(None), own_fields.like(pattern, escape=escape))))
    member = aliased(User, name="member")
    shared_email = case((member.share_email.is_(True), member.email), else_="")
    shown = search_text(member.name, member.headline, member.company, shared_email)
    by_profile = (select(Contact.id).join(member, member.id == Contact.user_id)
                  .where(owned, profile_search_text(member).like(pattern, escape=escape),
                         shown.like(pattern, escape=escape)))
    return by_own_text.union(by_profile)


def _matching(shape: _Shape, person) -> list:
    """The conditions on ``Contact`` (joined to its member as ``person`` on
    SQLite) for a shape of filters, but the tag (:func:`_choosing` starts from
    the tag's contacts)."""
    conditions = [Contact.owner_id == bindparam("owner_id"), Contact.deleted_at.is_(None)]
    if shape.searching:
        pattern = bindparam("pattern")
        if shape.dialect == "postgresql":
            conditions.append(Contact.id.in_(_found_by_index(pattern, "/" if shape.escaped else None)))
        else:
            shared_email = case((person.share_email.is_(True), person.email), else_="")
            conditions.append(contains_text(pattern, func.coalesce(person.name, Contact.name), person.headline,
                                            person.company, shared_email, Contact.headline, Contact.company,
                                            Contact.email, Contact.note, dialect=shape.dialect,
                                            escaped=shape.escaped))
    if shape.by_event:
        conditions.append(Contact.event_id == bindparam("event_id"))
    if shape.by_state:
        conditions.append(Contact.state == bindparam("state"))
    return conditions


def _choosing(shape: _Shape, *columns) -> tuple[Select, type[User]]:
    """``columns`` of the contacts matching a shape of filters, joined to their
    member's profile (as ``person``) when a search or the sort reads it, and
    the person alias for ordering."""
    person = aliased(User, name="person")
    query = select(*columns)
    conditions = _matching(shape, person)
    if shape.tagged:
        # The tag's few contacts first, then each of them by id. Asked with a join or an IN,
        # SQLite would rather read all of the owner's contacts and PostgreSQL all of them or
        # every contact in id order: SQLite gets them materialised, PostgreSQL as an array.
        tag_contacts = select(contact_tag.c.contact_id).where(contact_tag.c.tag_id == bindparam("tag_id"))
        if shape.dialect == "postgresql":
            conditions.append(Contact.id == any_(func.array(tag_contacts.scalar_subquery())))
        else:
            tagged = tag_contacts.cte("tagged").prefix_with("MATERIALIZED")
            query = query.select_from(tagged).join(Contact, Contact.id == tagged.c.contact_id)
    if not shape.tagged or shape.dialect == "postgresql":
        query = query.select_from(Contact)
    # Only these read the member's profile (PostgreSQL's search reads it in its own subquery).
    if (shape.searching and shape.dialect != "postgresql") or shape.sort == "name":
        query = query.outerjoin(person, person.id == Contact.user_id)
    return query.where(*conditions), person


@lru_cache(maxsize=256)
def _page_statement(shape: _Shape) -> Select:
    """A page of rows: the page's contact ids chosen (and counted) first, then
    only those 25 joined to their member, event and tags."""
    window = shape.counting == "window"
    chosen, person = _choosing(shape, Contact.id.label("id"), *([func.count().over().label("total")] if window else []))
    chosen = (chosen.order_by(*_order(shape.sort, Contact, person))
              .limit(bindparam("limit")).offset(bindparam("offset")).subquery("chosen"))

    member = aliased(User, name="member")
    tags = (select(func.aggregate_strings(Tag.name, _TAG_SEPARATOR))
            .select_from(contact_tag).join(Tag, Tag.id == contact_tag.c.tag_id)
            .where(contact_tag.c.contact_id == Contact.id).scalar_subquery())
    rows = (select(Contact.id, member.id, member.name, member.headline, member.company, member.photo_version,
                   Contact.name, Contact.email, Contact.headline, Contact.company, Event.name,
                   Contact.last_touched_at, Contact.met_at, Contact.created_at, Contact.next_reminder_at, tags)
            .select_from(chosen).join(Contact, Contact.id == chosen.c.id))
    if window:
        rows = rows.add_columns(chosen.c.total)
    elif shape.counting == "live":
        # Everyone live, counted once for the statement and joined to every row (materialised:
        # PostgreSQL might otherwise count again for each).
        live = (select(func.count().label("total")).select_from(Contact)
                .where(Contact.owner_id == bindparam("owner_id"), Contact.deleted_at.is_(None))
                .cte("live").prefix_with("MATERIALIZED"))
        rows = rows.add_columns(live.c.total).join(live, true())
    else:
        rows = rows.add_columns(null())
    return (rows.outerjoin(member, member.id == Contact.user_id).outerjoin(Event, Event.id == Contact.event_id)
            .order_by(*_order(shape.sort, Contact, member)))


def _shape(filters: Filters) -> _Shape:
    counting = "peek" if filters.term else ("window" if filters.narrowed else "live")
    return _Shape(db.session.get_bind().dialect.name, filters.sort if filters.sort in SORTS else "recent",
                  bool(filters.term), needs_escape(filters.term), filters.tag_id is not None,
                  filters.event_id is not None, filters.state in _STATES, counting)


def _parameters(owner: User, filters: Filters) -> dict:
    return {"owner_id": owner.id, "pattern": like_pattern(filters.term), "tag_id": filters.tag_id,
            "event_id": filters.event_id, "state": filters.state}


def list_page(owner: User, filters: Filters, page: int, per_page: int) -> Page[Listed]:
    """Page ``page`` of ``owner``'s live contacts matching ``filters``, in one statement.

    Unfiltered or filtered by a tag, an event or a follow-up state, the list
    counts its people in the same statement as its rows. A text search
    doesn't count its matches: that would mean reading every contact (SQLite
    has no index to find text in), where a page in "last in touch" order
    stops after the matches it shows. It asks for one more than a page
    instead, so it knows whether a next page exists; its total is known once
    the matches end on this page.
    """
    shape = _shape(filters)
    limit = per_page + 1 if shape.counting == "peek" else per_page
    rows = db.session.execute(_page_statement(shape),
                              {**_parameters(owner, filters), "limit": limit, "offset": (page - 1) * per_page}
                              ).all()
    more = len(rows) > per_page
    items = [_listed(row) for row in rows[:per_page]]
    if shape.counting == "peek":
        total = None if more or (not items and page > 1) else (page - 1) * per_page + len(items)
    else:
        total = rows[0][-1] if rows else (0 if page == 1 else _count(owner, filters))
    return Page(items, page, per_page, total, more)


def _listed(row) -> Listed:
    (contact_id, member_id, member_name, member_headline, member_company, photo_version, name, email, headline,
     company, event_name, touched, met, created, reminder, tags, _total) = row
    member = member_id is not None
    return Listed(
        id=contact_id, name=member_name if member else (name or email), member_id=member_id,
        headline=member_headline if member else headline, company=member_company if member else company,
        photo_version=photo_version or 0, event_name=event_name, in_touch_at=touched or met, created_at=created,
        next_reminder_at=reminder, tags=tuple(sorted(tags.split(_TAG_SEPARATOR))) if tags else (),
    )


def _count(owner: User, filters: Filters) -> int:
    """How many match, for a page past the last (which shows none of them)."""
    statement, _person = _choosing(_shape(filters), func.count(Contact.id))
    return db.session.scalar(statement, _parameters(owner, filters)) or 0

