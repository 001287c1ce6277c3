"""Personal API tokens: ``Authorization: Bearer <token>`` for the JSON API.

Only the SHA-256 of a token is stored; its plaintext is returned once, by
:func:`create`, and never again. Tokens start with ``ml_`` so that a leaked
one is recognisable (by people and by secret scanners); the first characters
are kept in ``prefix`` so the owner can tell their tokens apart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from webapp.extensions import db
from webapp.models import ApiToken, User, utcnow
from webapp.services import NotFound, ValidationFailed

PREFIX = "ml_"
TOKEN_BYTES = 32  # 256 bits from secrets
PREFIX_LENGTH = 12  # what ApiToken.prefix holds: "ml_" and nine characters
MAX_NAME = 80
MAX_ACTIVE = 20
MAX_TOKEN_LENGTH = 200
# last_used_at is for people ("used 2 hours ago"), not an audit log: refreshed
# at most this often, so a busy client doesn't write on every request.
USE_PRECISION = timedelta(minutes=1)
MAX_ID = 2**31 - 1


def digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8", "surrogatepass")).hexdigest()


def create(user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user``, and its plaintext (shown to them once)."""
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed("Give the token a name, such as the device it is for.", field="name")
    if len(name) > MAX_NAME:
        raise ValidationFailed(f"Keep the name under {MAX_NAME} characters.", field="name")
    active = db.session.scalar(
        select(func.count(ApiToken.id)).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    )
    if active >= MAX_ACTIVE:
        raise ValidationFailed(f"You have {MAX_ACTIVE} tokens: revoke one you no longer use first.", field="name")
    plaintext = PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken(user_id=user.id, name=name, token_hash=digest(plaintext), prefix=plaintext[:PREFIX_LENGTH])
    db.session.add(token)
    db.session.flush()
    return token, plaintext


def find(plaintext: str) -> ApiToken | None:
    """The live token with this plaintext, if its owner may still sign in."""
    if not plaintext.startswith(PREFIX) or len(plaintext) > MAX_TOKEN_LENGTH:
        return None
    wanted = digest(plaintext)
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == wanted, ApiToken.revoked_at.is_(None))
    )
    if token is None or not hmac.compare_digest(token.token_hash, wanted) or token.user.is_disabled:
        return None
    return token


def authenticate(plaintext: str) -> User | None:
    """The user a Bearer token belongs to; None if unknown, revoked or disabled."""
    token = find(plaintext)
    return token.user if token is not None else None


def needs_use_recorded(last_used_at: datetime | None, now: datetime | None = None) -> bool:
    """Whether a token last used at ``last_used_at`` should have its use recorded now."""
    return last_used_at is None or (now or utcnow()) - last_used_at >= USE_PRECISION


def record_use(token_id: int, now: datetime | None = None) -> None:
    """Note that a token was just used (one UPDATE, no read first)."""
    db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now or utcnow()))


def revoke(user: User, token_id: int) -> ApiToken:
    """Stop ``user``'s token from working at once. Someone else's is NotFound."""
    token = db.session.get(ApiToken, token_id) if 0 < token_id <= MAX_ID else None
    if token is None or token.user_id != user.id:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
    return token


def list_tokens(user: User) -> list[ApiToken]:
    """``user``'s tokens, live ones first, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )
