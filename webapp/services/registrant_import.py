"""Registrant import: an organizer's CSV in, registered attendees and one
invitation each out.

Upload → :func:`create_import` (parse, check, keep the rows in the database:
status ``preview``) → :func:`start` (``pending``; the view queues the worker
task) → :func:`run_import` in the worker (``running`` → ``done``).

What an import promises:

* Existing accounts are registered with their profile untouched; new ones are
  created unverified and without a password (the invitation link proves the
  address when it is used).
* Each person registered gets one invitation (personal sign-in link, badge
  link, "not me / don't contact me" link). Its outbox dedupe key is per
  (event, person), so importing the same file again changes nothing and sends
  nothing; people already registered are left alone.
* Whoever used the "not me" link (:func:`opt_out`) is never added or emailed
  by an import into that event again, whatever file it comes from.
* 10,000 rows cost a few hundred SQL statements: rows go in batches, each one
  transaction of bulk reads and multi-row inserts (``ON CONFLICT DO NOTHING``,
  so a concurrent join or a second import can't break a batch).
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, exists, or_, select, update

from webapp.extensions import db
from webapp.models import (
    Attendance,
    Contact,
    Event,
    EventOrganizer,
    ImportStatus,
    RegistrantImport,
    RegistrantOptOut,
    Role,
    Scan,
    User,
    utcnow,
)
from webapp.services import DomainError, NotFound, badges, joining, mail, sql, tokens
from webapp.services.events import BADGE_ALPHABET, BADGE_CODE_LENGTH
from webapp.services.registrant_csv import ImportFileError, parse, template_csv  # noqa: F401 (part of this API)

log = logging.getLogger(__name__)

BATCH_SIZE = 500
CHUNK = 500  # addresses per IN (...) lookup
PREVIEW_ROWS = 20
INVITATION = "registrant_invitation"
OPT_OUT = "registrant-opt-out"
OPT_OUT_MAX_AGE = 400 * 24 * 3600
# Pending too: queueing it again is harmless (one worker claims it), and it
# rescues an import whose task never reached a worker.
STARTABLE = (ImportStatus.PREVIEW.value, ImportStatus.PENDING.value, ImportStatus.FAILED.value)


class ImportNotStartable(DomainError):
    code = "import_not_startable"


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- Upload and preview -----------------------------------------------------------


def create_import(event: Event, uploaded_by: User, filename: str, data: bytes) -> RegistrantImport:
    """Check ``data`` (see :func:`parse`) and keep it as an import awaiting
    the organizer's go-ahead. Raises ImportFileError for an unusable file."""
    joining.check_joinable(event, by_link=False)
    parsed = parse(data)
    if not parsed.rows and not parsed.bad:
        raise ImportFileError("This file has column names but nobody in it.")
    imp = RegistrantImport(
        event=event, uploaded_by=uploaded_by, filename=_basename(filename),
        status=ImportStatus.PREVIEW.value, notes=parsed.notes,
        rows=[[r.line, r.email, r.name, r.company, r.headline] for r in parsed.rows],
        bad_rows=[[b.line, b.value, b.reason] for b in parsed.bad],
        total=len(parsed.rows), bad=len(parsed.bad),
    )
    db.session.add(imp)
    db.session.flush()
    return imp


def _basename(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]  # some browsers send a whole path
    name = " ".join("".join(c if c.isprintable() else " " for c in name).split())
    return name[-255:] or "upload.csv"


@dataclass(frozen=True)
class Preview:
    new: int  # addresses without an account: created
    existing: int  # accounts that will be registered
    already: int  # registered already (or a disabled account): left alone
    opted_out: int  # said "not me / don't contact me" to this event
    first_rows: list[list]


def preview(imp: RegistrantImport) -> Preview:
    """What importing would do, as of now (the run's own counts are final)."""
    counts: Counter[str] = Counter()
    emails = [row[1] for row in imp.rows]
    for chunk in _chunks(emails, CHUNK):
        opted = set(db.session.scalars(select(RegistrantOptOut.email).where(
            RegistrantOptOut.event_id == imp.event_id, RegistrantOptOut.email.in_(chunk))))
        found = db.session.execute(select(User.email, User.id, User.is_disabled).where(User.email.in_(chunk))).all()
        accounts = {email: user_id for email, user_id, _ in found}
        disabled = {email for email, _, is_disabled in found if is_disabled}
        registered = set(db.session.scalars(select(Attendance.user_id).where(
            Attendance.event_id == imp.event_id, Attendance.user_id.in_(accounts.values()))))
        for email in chunk:
            if email in opted:
                counts["opted_out"] += 1
            elif email not in accounts:
                counts["new"] += 1
            elif email in disabled or accounts[email] in registered:
                counts["already"] += 1
            else:
                counts["existing"] += 1
    return Preview(counts["new"], counts["existing"], counts["already"], counts["opted_out"],
                   imp.rows[:PREVIEW_ROWS])


def get_import(event: Event, import_id: int) -> RegistrantImport:
    imp = db.session.get(RegistrantImport, import_id)
    if imp is None or imp.event_id != event.id:
        raise NotFound("No such import.")
    return imp


def imports_of(event: Event) -> list[RegistrantImport]:
    """The event's imports, newest first (without their rows)."""
    return list(db.session.scalars(select(RegistrantImport).where(RegistrantImport.event_id == event.id)
                                   .order_by(RegistrantImport.id.desc())))


def discard(imp: RegistrantImport) -> None:
    """Forget an upload that wasn't imported."""
    if imp.status != ImportStatus.PREVIEW.value:
        raise ImportNotStartable("Only an upload that hasn't been imported can be discarded.")
    db.session.delete(imp)
    db.session.flush()


def start(imp: RegistrantImport) -> None:
    """Mark a previewed import for the worker (or a failed one, to resume it
    where it stopped); the caller commits, then queues ``jobs.import_registrants(imp.id)``."""
    if imp.status not in STARTABLE:
        raise ImportNotStartable("This import has already been started.")
    joining.check_joinable(imp.event, by_link=False)
    imp.status, imp.error, imp.finished_at = ImportStatus.PENDING.value, None, None
    db.session.flush()


def progress(imp: RegistrantImport) -> dict[str, int | str | None]:
    return {
        "status": imp.status, "processed": imp.processed, "total": imp.total, "created": imp.created,
        "attached": imp.attached, "skipped": imp.skipped, "opted_out": imp.opted_out, "bad": imp.bad,
        "error": imp.error,
    }


def bad_rows_csv(imp: RegistrantImport) -> str:
    """The rows left out, with their line numbers and reasons (cells that a
    spreadsheet would run as formulas are quoted with a leading apostrophe)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["line", "email", "problem"])
    for line, value, reason in imp.bad_rows:
        writer.writerow([line, "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value, reason])
    return out.getvalue()


# --- The run (worker) ----------------------------------------------------------------


def run_import(import_id: int, batch_size: int = BATCH_SIZE) -> dict[str, int | str | None] | None:
    """Import a ``pending`` import's rows; returns its final :func:`progress`,
    or None if it wasn't pending (already taken by another worker, or done).

    Unlike other services this one commits: after claiming the import, and
    after each batch, so progress shows while it runs and a failure keeps the
    batches done (``failed``; :func:`start` again resumes at ``processed``).
    Every step is idempotent, so a batch that is redone changes nothing twice.
    """
    claimed = db.session.execute(
        update(RegistrantImport)
        .where(RegistrantImport.id == import_id, RegistrantImport.status == ImportStatus.PENDING.value)
        .values(status=ImportStatus.RUNNING.value, started_at=utcnow())
    ).rowcount
    db.session.commit()
    if not claimed:
        return None
    imp = db.session.get(RegistrantImport, import_id)
    rows, event_id = imp.rows, imp.event_id
    try:
        joining.check_joinable(imp.event, by_link=False)  # cancelled or over since it was confirmed?
        codes = set(db.session.scalars(select(Attendance.badge_code).where(Attendance.event_id == event_id)))
        while imp.processed < len(rows):
            batch = rows[imp.processed:imp.processed + batch_size]
            counts = _import_batch(imp.event, imp.uploaded_by, batch, codes)
            imp.processed += len(batch)
            for name, n in counts.items():
                setattr(imp, name, getattr(imp, name) + n)
            db.session.commit()
        imp.status, imp.finished_at = ImportStatus.DONE.value, utcnow()
        db.session.commit()
    except Exception as exc:
        if isinstance(exc, DomainError):
            log.warning("registrant import %s stopped at row %s: %s", import_id, imp.processed, exc)
        else:
            log.exception("registrant import %s failed at row %s", import_id, imp.processed)
        db.session.rollback()
        imp.status, imp.finished_at = ImportStatus.FAILED.value, utcnow()
        reason = exc.message if isinstance(exc, DomainError) else "Something went wrong on our side."
        line = rows[imp.processed][0] if imp.processed < len(rows) else "?"
        imp.error = f"Stopped at line {line}: {reason} The rows before it are imported; try again to continue."
        db.session.commit()
    return progress(imp)


def _import_batch(event: Event, inviter: User | None, batch: list[list], codes: set[str]) -> Counter[str]:
    """Register one batch of rows, in a bounded number of statements."""
    counts: Counter[str] = Counter()
    emails = [row[1] for row in batch]
    opted = set(db.session.scalars(select(RegistrantOptOut.email).where(
        RegistrantOptOut.event_id == event.id, RegistrantOptOut.email.in_(emails))))
    todo = [row for row in batch if row[1] not in opted]
    counts["opted_out"] = len(batch) - len(todo)
    if not todo:
        return counts

    # Accounts: create the missing ones (an existing one is never touched), then load them all.
    created_ids = set(db.session.scalars(
        sql.insert_ignoring_conflicts(User, ["email"]).returning(User.id),
        [{"email": email, "name": name, "company": company, "headline": headline, "role": Role.ATTENDEE.value,
          "email_verified": False, "password_hash": None} for _, email, name, company, headline in todo],
    ))
    users = {u.email: u for u in db.session.scalars(select(User).where(User.email.in_([r[1] for r in todo])))}
    registered = set(db.session.scalars(select(Attendance.user_id).where(
        Attendance.event_id == event.id, Attendance.user_id.in_([u.id for u in users.values()]))))
    wanted = [users[row[1]] for row in todo if not users[row[1]].is_disabled and users[row[1]].id not in registered]
    counts["skipped"] = len(todo) - len(wanted)

    attendances = _register(event, wanted, codes)
    counts["skipped"] += len(wanted) - len(attendances)
    for attendance in attendances:
        counts["created" if attendance.user_id in created_ids else "attached"] += 1
    _queue_invitations(event, inviter, attendances, {u.id: u for u in wanted}, created_ids)
    return counts


def _new_code(codes: set[str]) -> str:
    while True:
        code = "".join(secrets.choice(BADGE_ALPHABET) for _ in range(BADGE_CODE_LENGTH))
        if code not in codes:
            codes.add(code)
            return code


def _register(event: Event, users: list[User], codes: set[str]) -> list[Attendance]:
    """Attendances for ``users`` (as :func:`events.add_attendee` makes them),
    inserted together. Someone who registered meanwhile is left out; a badge
    code taken meanwhile is drawn again."""
    now = utcnow()
    todo = {u.id: {"event_id": event.id, "user_id": u.id, "registered_via": "import", "listed": False,
                   "invited_at": now} for u in users}
    made: list[Attendance] = []
    for _ in range(5):
        if not todo:
            break
        for params in todo.values():
            params["badge_code"], params["badge_token"] = _new_code(codes), secrets.token_urlsafe(24)
        inserted = db.session.scalars(
            sql.insert_ignoring_conflicts(Attendance).returning(Attendance), list(todo.values())
        ).all()
        for attendance in inserted:
            todo.pop(attendance.user_id)
        made += inserted
        if todo:
            for user_id in db.session.scalars(select(Attendance.user_id).where(
                    Attendance.event_id == event.id, Attendance.user_id.in_(list(todo)))):
                todo.pop(user_id)
    if todo:
        raise DomainError("Couldn't give everyone a badge code. Please try again.")
    return made


def _queue_invitations(event: Event, inviter: User | None, attendances: list[Attendance],
                       users: dict[int, User], created_ids: set[int]) -> None:
    """One invitation per new registration, recorded like :func:`mail.queue`
    does (dedupe key per event and person), in one multi-row insert."""
    if not attendances:
        return
    messages = []
    for attendance in attendances:
        user = users[attendance.user_id]
        link = joining.invitation_link(event, user, attendance.invited_at)
        not_me = mail.external_url("organize.not_me", token=tokens.make(
            OPT_OUT, eid=event.id, uid=user.id, new=user.id in created_ids))
        subject, text, html = mail.render(INVITATION, user=user, event=event, inviter=inviter, link=link,
                                          badge_link=badges.badge_url(attendance), not_me_link=not_me)
        messages.append({
            "dedupe_key": f"registrant-invite:{event.id}:{user.id}", "kind": INVITATION, "user_id": user.id,
            "recipient": user.email, "subject": subject, "text_body": text, "html_body": html,
            # RFC 8058 one-click: the "not me" link takes a POST without a form.
            "headers": {"List-Unsubscribe": f"<{not_me}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        })
    mail.queue_many(messages)


# --- "Not me / don't contact me" ---------------------------------------------------------


@dataclass(frozen=True)
class OptOutRequest:
    event: Event
    email: str
    user: User | None
    attendance: Attendance | None
    created_by_import: bool
    done: bool  # this address has already opted out of the event


def read_opt_out(token: str) -> OptOutRequest:
    """What a "not me" link is about, changing nothing (for its confirm page).
    The link names the account, not the address, so no address ends up in
    URLs and logs; an account that is gone (the link deleted it) has nothing
    left to remove."""
    payload = tokens.read(OPT_OUT, token, OPT_OUT_MAX_AGE)
    event = db.session.get(Event, payload.get("eid"))
    if event is None:
        raise tokens.LinkError("This link is no longer valid.")
    user = db.session.get(User, payload.get("uid"))
    created = bool(payload.get("new"))
    if user is None:
        return OptOutRequest(event, "", None, None, created, done=True)
    attendance = db.session.scalar(select(Attendance).where(
        Attendance.event_id == event.id, Attendance.user_id == user.id))
    done = db.session.get(RegistrantOptOut, (event.id, user.email)) is not None
    return OptOutRequest(event, user.email, user, attendance, created, done)


def opt_out(token: str) -> OptOutRequest:
    """Use a "not me" link (idempotent): no import adds or emails this address
    for this event again, its registration is removed (unless it was already
    checked in at the door), and an account the import made that was never
    used is deleted with it."""
    found = read_opt_out(token)
    user, attendance = found.user, found.attendance
    if user is None:
        return found
    db.session.execute(sql.insert_ignoring_conflicts(RegistrantOptOut),
                       [{"event_id": found.event.id, "email": user.email, "created_at": utcnow()}])
    if attendance is not None and attendance.checked_in_at is None:
        db.session.delete(attendance)
        db.session.flush()
        attendance = None
    if found.created_by_import and attendance is None and _untouched(user):
        # Mail already recorded for them stays in the log, without the link to the account.
        db.session.execute(delete(User).where(User.id == user.id))
        db.session.expunge(user)
        user = None
    db.session.flush()
    return OptOutRequest(found.event, found.email, user, attendance, found.created_by_import, done=True)


def _untouched(user: User) -> bool:
    """Never signed in or used: nothing of anyone else's would go with the account."""
    if user.email_verified or user.password_hash or user.last_login_at or user.role != Role.ATTENDEE.value:
        return False
    used = or_(
        exists().where(Attendance.user_id == user.id),
        exists().where(Event.owner_id == user.id),
        exists().where(EventOrganizer.user_id == user.id),
        exists().where(or_(Scan.scanner_id == user.id, Scan.scanned_id == user.id)),
        exists().where(or_(Contact.user_id == user.id, Contact.owner_id == user.id)),
        exists().where(RegistrantImport.uploaded_by_id == user.id),
    )
    return not db.session.scalar(select(used))

