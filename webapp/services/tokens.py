"""Signed, expiring, single-use links.

A link carries a signed payload (itsdangerous) with a random nonce. Reading a
link checks signature and age only, so a confirm page can show what the link
will do; *spending* it records the nonce under a unique key, so the second use
fails even when two requests race.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from functools import lru_cache
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import UsedToken, utcnow
from webapp.services import DomainError


class LinkError(DomainError):
    code = "link_invalid"


class LinkExpired(LinkError):
    code = "link_expired"


class LinkUsed(LinkError):
    code = "link_used"


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"], purpose)


@lru_cache(maxsize=64)
def _serializer_for(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    # Built once per key and purpose: a recap signs thousands of links.
    return URLSafeTimedSerializer(secret_key, salt=f"meetloop.link.{purpose}")


@lru_cache(maxsize=64)
def _signer_for(secret_key: str, purpose: str) -> TimestampSigner:
    return TimestampSigner(secret_key, salt=f"meetloop.ids.{purpose}")


def make(purpose: str, **payload: Any) -> str:
    """Sign ``payload`` for ``purpose`` with a fresh nonce."""
    return _serializer(purpose).dumps({**payload, "n": secrets.token_urlsafe(16)})


# "<id>-<id>.<nonce>.<timestamp>.<signature>": see make_ids.
_IDS_TOKEN = re.compile(r"\d{1,18}(?:-\d{1,18}){0,3}\.[\w-]{16,43}\.[\w-]{4,12}\.[\w-]{20,90}", re.ASCII)


def make_ids(purpose: str, *ids: int) -> str:
    """Like :func:`make` for a payload of a few ids, read back as
    ``payload["ids"]``: signed without JSON or compression, in a third of the
    time (a recap signs one link per person it lists)."""
    signer = _signer_for(current_app.config["SECRET_KEY"], purpose)
    return signer.sign(f"{'-'.join(str(int(i)) for i in ids)}.{secrets.token_urlsafe(16)}").decode("ascii")


def _load(purpose: str, token: str, max_age: int) -> Any:
    if _IDS_TOKEN.fullmatch(token):
        value = _signer_for(current_app.config["SECRET_KEY"], purpose).unsign(token, max_age=max_age)
        ids, nonce = value.decode("ascii").split(".")
        return {"ids": [int(i) for i in ids.split("-")], "n": nonce}
    return _serializer(purpose).loads(token, max_age=max_age)


def _spent_key(payload: dict[str, Any], use: str | None) -> str:
    """What spending records: the nonce, or the nonce and ``use`` for a link
    that offers several single-use actions under one signature."""
    return f"{payload['n']}:{use}" if use else payload["n"]


def read(purpose: str, token: str, max_age: int, *, use: str | None = None) -> dict[str, Any]:
    """Return the payload of a valid, unexpired link not yet spent (for ``use``)."""
    try:
        payload = _load(purpose, token, max_age)
    except SignatureExpired:
        raise LinkExpired("This link has expired.") from None
    except BadSignature:
        raise LinkError("This link is not valid.") from None
    if not isinstance(payload, dict) or "n" not in payload:
        raise LinkError("This link is not valid.")
    if not isinstance(payload["n"], str):
        raise LinkError("This link is not valid.")
    if db.session.get(UsedToken, _spent_key(payload, use)) is not None:
        raise LinkUsed("This link has already been used.")
    return payload


def spend(purpose: str, token: str, max_age: int, *, use: str | None = None) -> dict[str, Any]:
    """Like :func:`read`, then mark the link used (for ``use``), atomically."""
    payload = read(purpose, token, max_age, use=use)
    try:
        with db.session.begin_nested():
            db.session.add(
                UsedToken(
                    nonce=_spent_key(payload, use),
                    purpose=purpose,
                    expires_at=utcnow() + timedelta(seconds=max_age),
                )
            )
    except IntegrityError:
        raise LinkUsed("This link has already been used.") from None
    return payload


def purge_expired() -> int:
    """Forget spent nonces whose links could no longer be read anyway."""
    result = db.session.execute(delete(UsedToken).where(UsedToken.expires_at < utcnow()))
    return result.rowcount or 0
