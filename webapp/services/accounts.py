"""Accounts: sign-up, sign-in (password or emailed link), verification,
password reset, email change, roles and "sign out everywhere".

Nothing here reveals whether an address is registered: the functions that take
an address from a stranger return nothing and send the owner of the address an
email that fits their situation.
"""

from __future__ import annotations

import secrets

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.models import Role, User, utcnow
from webapp.services import DomainError, NotFound, ValidationFailed, mail, profiles, tokens

MIN_PASSWORD_LENGTH = 12
MAX_NAME = 120  # the user table's column
SIGNIN, VERIFY, RESET, CHANGE_EMAIL = "signin", "verify", "reset", "change-email"
# A hash to compare against when the address is unknown, so both paths cost the same.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


class InvalidCredentials(DomainError):
    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("That email and password don't match an account.")


class EmailNotVerified(DomainError):
    code = "email_not_verified"


class AccountDisabled(DomainError):
    code = "account_disabled"


class EmailTaken(DomainError):
    code = "email_taken"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def check_password(password: str) -> None:
    """Refuse a password too short to keep (before anything is created or hashed)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"Use at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )


def hash_password(password: str) -> str:
    check_password(password)
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def create_user(
    email: str,
    name: str,
    *,
    password: str | None = None,
    role: str = Role.ATTENDEE.value,
    verified: bool = False,
    **profile: str,
) -> User:
    """Create an account; raises :class:`EmailTaken` if the address has one,
    ValidationFailed for a name that isn't one line of at most :data:`MAX_NAME`
    characters (it goes into email subjects: no line breaks)."""
    email = normalise_email(email)
    name = profiles.one_line(name, "name")
    if len(name) > MAX_NAME:
        raise ValidationFailed(f"Use at most {MAX_NAME} characters for the name.", field="name")
    if find_by_email(email) is not None:
        raise EmailTaken("An account with this email already exists.", field="email")
    if role not in {r.value for r in Role}:
        raise ValidationFailed(f"Unknown role {role!r}.", field="role")
    user = User(
        email=email,
        name=name,
        role=role,
        email_verified=verified,
        password_hash=hash_password(password) if password else None,
        **profile,
    )
    db.session.add(user)
    db.session.flush()
    return user


def set_role(user: User, role: str) -> None:
    if role not in {r.value for r in Role}:
        raise ValidationFailed(f"Unknown role {role!r}.", field="role")
    user.role = role


def _link(purpose: str, endpoint: str, user: User, **extra: str) -> str:
    token = tokens.make(purpose, uid=user.id, sv=user.session_version, **extra)
    return mail.external_url(endpoint, token=token)


def safe_next(target: str | None) -> str | None:
    """A same-site path to return to after sign-in, or None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    # Browsers drop tabs and newlines from URLs ("/\t/evil.com" is "//evil.com"),
    # and a newline in a Location header is a server error: refuse controls and spaces.
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in target):
        return None
    return target[:500]


def _queue_signin_link(user: User, reason: str, next_path: str | None = None) -> None:
    """Email a link that signs ``user`` in.

    ``reason="verify"`` (someone who knows the password, on an unverified
    account) sends a verification link, which keeps that password. Any other
    reason sends a plain sign-in link, which on an unverified account clears a
    password nobody has proven to own (see :func:`signin_with_link`).
    """
    extra = {"next": next_path} if safe_next(next_path) else {}
    if reason == "verify":
        link = _link(VERIFY, "auth.verify_email", user, **extra)
        validity = f"{current_app.config['VERIFY_LINK_MAX_AGE'] // 3600} hours"
    else:
        link = _link(SIGNIN, "auth.link_signin", user, **extra)
        validity = f"{current_app.config['SIGNIN_LINK_MAX_AGE'] // 60} minutes"
    mail.queue(
        template="signin_link",
        to=user.email,
        user=user,
        dedupe_key=f"signin:{user.id}:{secrets.token_hex(8)}",
        link=link,
        reason=reason,
        validity=validity,
    )


def register(email: str, name: str, password: str | None) -> None:
    """Sign-up. New address: an unverified account and a verification email.
    Known address: the owner gets a sign-in link instead; the caller can't tell.
    """
    existing = find_by_email(email)
    if existing is not None:
        if password:  # costs what hashing a new account's password costs, so timing tells nothing
            generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])
        if not existing.is_disabled:
            _queue_signin_link(existing, reason="signup")
        return
    if password:
        check_password(password)  # before creating anything; create_user hashes it, once, as above
    user = create_user(email, name, password=password or None)
    mail.queue(
        template="verify_email",
        to=user.email,
        user=user,
        dedupe_key=f"verify:{user.id}:{user.session_version}",
        link=_link(VERIFY, "auth.verify_email", user),
        hours=current_app.config["VERIFY_LINK_MAX_AGE"] // 3600,
    )


def authenticate(email: str, password: str) -> User:
    """The user whose email and password match, or one generic error.

    Only someone who knows the password learns that the account is unverified
    or disabled.
    """
    user = find_by_email(email)
    if user is None or user.password_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        raise InvalidCredentials()
    if not check_password_hash(user.password_hash, password):
        raise InvalidCredentials()
    if user.is_disabled:
        raise AccountDisabled("This account has been disabled. Contact the organizers.")
    if not user.email_verified:
        _queue_signin_link(user, reason="verify")
        raise EmailNotVerified(
            "Please confirm your email first: we've just sent you a link to do it."
        )
    return user


def request_signin_link(email: str, next_path: str | None = None) -> None:
    """Email a 15-minute sign-in link if the address has an active account.

    ``next_path`` travels inside the signed link, so a link opened in another
    browser (iOS opens mail links in Safari) still lands where the user was.
    """
    user = find_by_email(email)
    if user is not None and not user.is_disabled:
        _queue_signin_link(user, reason="request", next_path=next_path)


def _user_from_link(payload: dict) -> User:
    user = db.session.get(User, payload.get("uid"))
    if user is None or user.session_version != payload.get("sv"):
        raise tokens.LinkError("This link is no longer valid.")
    if user.is_disabled:
        raise AccountDisabled("This account has been disabled. Contact the organizers.")
    return user


def peek_link(purpose: str, token: str) -> User:
    """Who a link is for, without spending it (for its confirm page)."""
    max_age = _max_age(purpose)
    return _user_from_link(tokens.read(purpose, token, max_age))


def _max_age(purpose: str) -> int:
    key = {
        SIGNIN: "SIGNIN_LINK_MAX_AGE",
        VERIFY: "VERIFY_LINK_MAX_AGE",
        RESET: "RESET_LINK_MAX_AGE",
        CHANGE_EMAIL: "VERIFY_LINK_MAX_AGE",
    }[purpose]
    return current_app.config[key]


def signin_with_link(purpose: str, token: str) -> tuple[User, str | None]:
    """Spend a sign-in or verification link; opening it proves the address.

    Returns the user and the safe path to continue to, if the link carries one.

    A plain sign-in link on a still-unverified account drops its password:
    whoever chose it never proved they own the address (someone may have
    signed up with another person's email before that person arrived).
    """
    if purpose not in (SIGNIN, VERIFY):
        raise tokens.LinkError("This link is not valid.")
    payload = tokens.spend(purpose, token, _max_age(purpose))
    user = _user_from_link(payload)
    if purpose == SIGNIN and not user.email_verified:
        user.password_hash = None
    user.email_verified = True
    record_login(user)
    return user, safe_next(payload.get("next"))


def record_login(user: User) -> None:
    user.last_login_at = utcnow()


def request_password_reset(email: str) -> None:
    user = find_by_email(email)
    if user is None or user.is_disabled:
        return
    mail.queue(
        template="password_reset",
        to=user.email,
        user=user,
        dedupe_key=f"reset:{user.id}:{secrets.token_hex(8)}",
        link=_link(RESET, "auth.reset_password", user),
        minutes=current_app.config["RESET_LINK_MAX_AGE"] // 60,
    )


def reset_password(token: str, new_password: str) -> User:
    """Spend a reset link: new password, email proven, every session ended."""
    password_hash = hash_password(new_password)
    user = _user_from_link(tokens.spend(RESET, token, _max_age(RESET)))
    user.password_hash = password_hash
    user.email_verified = True
    sign_out_everywhere(user)
    return user


def change_password(user: User, current: str | None, new_password: str) -> None:
    """Set a new password; the current one is required when there is one."""
    if user.password_hash and not check_password_hash(user.password_hash, current or ""):
        raise ValidationFailed("That is not your current password.", field="current_password")
    user.password_hash = hash_password(new_password)
    sign_out_everywhere(user)


def sign_out_everywhere(user: User) -> None:
    """Invalidate every session, remember-me cookie and outstanding link."""
    user.session_version += 1


def request_email_change(user: User, new_email: str) -> None:
    """Send a confirmation link to the new address; nothing changes until it's opened.

    If the address already has an account, its owner is told instead, and the
    requester sees the same answer either way.
    """
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise ValidationFailed("That is already your email address.", field="email")
    owner = find_by_email(new_email)
    if owner is not None:
        mail.queue(
            template="email_in_use",
            to=new_email,
            user=owner,
            dedupe_key=f"email-in-use:{owner.id}:{secrets.token_hex(8)}",
            link=mail.external_url("auth.login"),
        )
        return
    mail.queue(
        template="change_email",
        to=new_email,
        user=user,
        dedupe_key=f"change-email:{user.id}:{secrets.token_hex(8)}",
        link=_link(CHANGE_EMAIL, "auth.confirm_email_change", user, email=new_email),
        new_email=new_email,
        hours=current_app.config["VERIFY_LINK_MAX_AGE"] // 3600,
    )


def peek_email_change(token: str) -> tuple[User, str]:
    payload = tokens.read(CHANGE_EMAIL, token, _max_age(CHANGE_EMAIL))
    return _user_from_link(payload), payload["email"]


def confirm_email_change(token: str) -> User:
    """Spend a change-email link; the old address is told about the change."""
    payload = tokens.spend(CHANGE_EMAIL, token, _max_age(CHANGE_EMAIL))
    user = _user_from_link(payload)
    new_email = payload["email"]
    if find_by_email(new_email) is not None:
        raise EmailTaken("Another account now uses that address.", field="email")
    old_email = user.email
    user.email, user.email_verified = new_email, True
    # Links sent to the old address and sessions opened with it end here.
    sign_out_everywhere(user)
    mail.queue(
        template="email_changed",
        to=old_email,
        user=user,
        dedupe_key=f"email-changed:{user.id}:{payload['n']}",
        new_email=new_email,
    )
    return user


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def count_admins() -> int:
    return db.session.scalar(select(func.count()).where(User.role == Role.ADMIN.value)) or 0
