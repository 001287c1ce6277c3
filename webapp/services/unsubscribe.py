"""Email preferences and one-click unsubscribe (RFC 8058).

Every non-transactional email carries ``List-Unsubscribe`` (an HTTPS link and a
mailto) and ``List-Unsubscribe-Post``. The link is a signed token naming the
user and what to stop; it is long-lived and reusable (unsubscribing twice is
harmless, and a mail client may POST it more than once), so it is read, never
spent.
"""

from __future__ import annotations

import logging
import mailbox
import re
from email import message_from_bytes, policy
from email.utils import parseaddr
from typing import Any

from flask import current_app

from webapp.extensions import db
from webapp.models import User
from webapp.services import ValidationFailed, tokens
from webapp.services.mail import external_url

PURPOSE = "unsubscribe"
# Old emails keep working for a year: people unsubscribe from mail they kept.
LINK_MAX_AGE = 365 * 24 * 3600
#: kind -> the User flags it turns off
KINDS: dict[str, tuple[str, ...]] = {
    "recaps": ("email_recaps",),
    "nudges": ("email_nudges",),
    "digests": ("email_digests",),
    "all": ("email_recaps", "email_nudges", "email_digests"),
}
MAILTO_SUBJECT_PREFIX = "unsubscribe-"
_MAILTO_TOKEN = re.compile(re.escape(MAILTO_SUBJECT_PREFIX) + r"([A-Za-z0-9_.\-]+)")
MAILBOX_BATCH = 500
log = logging.getLogger(__name__)


def _token(user: User, kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown email kind {kind!r}")
    return tokens.make(PURPOSE, u=user.id, k=kind)


def link(user: User, kind: str) -> str:
    """Absolute HTTPS (``BASE_URL``) link to ``/unsubscribe/<token>`` stopping ``kind`` for ``user``."""
    return external_url("preferences.unsubscribe_confirm", token=_token(user, kind))


def headers(user: User, kind: str) -> dict[str, str]:
    """The RFC 2369 / RFC 8058 headers for one email of ``kind`` to ``user``."""
    token = _token(user, kind)
    url = external_url("preferences.unsubscribe_confirm", token=token)
    address = current_app.config["UNSUBSCRIBE_MAILTO"] or parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]
    return {
        "List-Unsubscribe": f"<{url}>, <mailto:{address}?subject={MAILTO_SUBJECT_PREFIX}{token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _resolve(payload: dict[str, Any]) -> tuple[User, str]:
    user = db.session.get(User, payload.get("u"))
    kind = payload.get("k")
    if user is None or kind not in KINDS:
        raise tokens.LinkError("This unsubscribe link is not valid.")
    return user, kind


def preview(token: str) -> tuple[User, str]:
    """Whose emails and which kind the link stops, changing nothing."""
    return _resolve(tokens.read(PURPOSE, token, LINK_MAX_AGE))


def apply(token: str) -> tuple[User, str]:
    """Turn off what the link names (idempotent) and flush; raises
    :class:`tokens.LinkError` for a tampered, unknown or expired link."""
    user, kind = preview(token)
    for flag in KINDS[kind]:
        setattr(user, flag, False)
    db.session.flush()
    return user, kind


def set_preferences(user: User, recaps: bool, nudges: bool, digests: bool, digest_weekday: int | None = None) -> None:
    """Set which non-transactional emails ``user`` gets, each on its own, and
    the digest's day (0 = Monday; None leaves it as it is); flushes."""
    if digest_weekday is not None and (type(digest_weekday) is not int or not 0 <= digest_weekday <= 6):
        raise ValidationFailed("Choose a day of the week.", field="digest_weekday")
    user.email_recaps, user.email_nudges, user.email_digests = bool(recaps), bool(nudges), bool(digests)
    if digest_weekday is not None:
        user.digest_weekday = digest_weekday
    db.session.flush()


def read_mailbox(path: str) -> int:
    """Apply the unsubscribe requests mailed to the ``List-Unsubscribe`` mailto
    address, waiting in the Maildir at ``path`` (subject ``unsubscribe-<token>``,
    possibly behind "Re:" or RFC 2047 encoding). Commits, then removes every
    message read, whatever it held, so a crash never loses a request. Returns
    how many requests were applied."""
    try:
        box = mailbox.Maildir(path, factory=None, create=False)
    except mailbox.NoSuchMailboxError:
        log.warning("UNSUBSCRIBE_MAILDIR %s is not a Maildir: unsubscribe mail not read", path)
        return 0
    read, applied = [], 0
    for key in box.iterkeys():
        if len(read) >= MAILBOX_BATCH:
            break
        read.append(key)
        try:
            subject = str(message_from_bytes(box.get_bytes(key), policy=policy.default).get("Subject", ""))
        except KeyError:  # another worker took it
            continue
        except (ValueError, TypeError, LookupError):  # an unparseable header: nothing to apply
            subject = ""
        match = _MAILTO_TOKEN.search(subject)
        if match is None:
            continue
        try:
            apply(match.group(1))
            applied += 1
        except tokens.LinkError:
            log.info("unsubscribe mail with an invalid token ignored")
    db.session.commit()
    for key in read:
        box.discard(key)
    return applied
