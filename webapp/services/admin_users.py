"""Site admin: finding accounts, changing roles, disabling and re-enabling them.

The rules, for every caller:

* nobody changes their own role or disables their own account (an admin who
  locks themselves out needs another admin anyway, so ask one);
* the site always keeps at least one active admin: the last one can't be
  demoted or disabled;
* disabling ends every session, remember-me cookie and emailed link at once
  (:func:`accounts.sign_out_everywhere`) and blocks signing in; re-enabling
  doesn't bring the old sessions back.
"""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select

from webapp.extensions import db
from webapp.models import Role, User
from webapp.services import PermissionDenied, ValidationFailed, accounts, audit

MAX_SEARCH = 100
PER_PAGE = 50
ROLES = tuple(r.value for r in Role)


class LastAdmin(PermissionDenied):
    code = "last_admin"


class OwnAccount(PermissionDenied):
    code = "own_account"


def search_query(search: str | None = None, role: str | None = None) -> Select[tuple[User]]:
    """Accounts by name, then id; optionally those whose name or email contains
    ``search`` (any case, ``%`` and ``_`` literal) and those with ``role``."""
    query = select(User).order_by(func.lower(User.name), User.id)
    term = (search or "").strip().lower()[:MAX_SEARCH]
    if term:
        query = query.where(or_(
            func.lower(User.name).contains(term, autoescape=True),
            func.lower(User.email).contains(term, autoescape=True),
        ))
    if role in ROLES:
        query = query.where(User.role == role)
    return query


def _other_active_admins(user: User) -> int:
    """Active admins besides ``user``. Their rows are locked (PostgreSQL) so two
    admins demoting each other at once can't both succeed; SQLite writers
    already run one at a time (BEGIN IMMEDIATE)."""
    ids = db.session.scalars(
        select(User.id).where(User.role == Role.ADMIN.value, User.is_disabled.is_(False), User.id != user.id)
        .with_for_update()
    ).all()
    return len(ids)


def _check_not_last_admin(user: User, action: str) -> None:
    if user.is_admin and not user.is_disabled and _other_active_admins(user) == 0:
        raise LastAdmin(f"{user.name} is the only active admin: make someone else an admin before you {action}.")


def change_role(actor: User, user: User, role: str) -> None:
    """Make ``user`` an attendee, organizer or admin (``actor`` is the admin doing it)."""
    if role not in ROLES:
        raise ValidationFailed(f"Unknown role {role!r}.", field="role")
    if role == user.role:
        return
    if role != Role.ADMIN.value:
        _check_not_last_admin(user, "take their admin rights")
    if user.id == actor.id:
        raise OwnAccount("You can't change your own role: ask another admin.")
    audit.record(actor, "user.role", subject=f"user {user.id}", detail=f"{user.role} → {role}")
    accounts.set_role(user, role)


def disable(actor: User, user: User) -> None:
    """Lock ``user`` out: their sessions end now and they can't sign in."""
    if user.is_disabled:
        return
    _check_not_last_admin(user, "disable this account")
    if user.id == actor.id:
        raise OwnAccount("You can't disable your own account.")
    user.is_disabled = True
    accounts.sign_out_everywhere(user)
    audit.record(actor, "user.disable", subject=f"user {user.id}")


def enable(actor: User, user: User) -> None:
    """Let ``user`` sign in again (their old sessions stay ended)."""
    if not user.is_disabled:
        return
    if user.id == actor.id:
        raise OwnAccount("You can't change your own account's status.")
    user.is_disabled = False
    audit.record(actor, "user.enable", subject=f"user {user.id}")
