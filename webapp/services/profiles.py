"""Profiles: who a person is *now*, and what they let others see."""

from __future__ import annotations

import io
import re
from functools import cache
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from PIL import Image, ImageOps, UnidentifiedImageError

from webapp.models import Role, User
from webapp.services import ValidationFailed

PHOTO_SIZE = 256
MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PHOTO_PIXELS = 40_000_000
PROFILE_FIELDS = ("name", "headline", "company", "looking_for", "linkedin_url", "phone", "timezone")
SHARING_FIELDS = ("share_email", "share_phone", "share_linkedin")
_PHONE = re.compile(r"^\+?[0-9 ().\-]{5,30}$")
MIN_PHONE_DIGITS = 5
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")
# A one-line value (a name goes into email subjects) holds no line break or other
# control character; any text holds no NUL (PostgreSQL can't store it).
_NOT_ONE_LINE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
ONE_LINE_MESSAGE = "Use a single line of text, without line breaks or control characters."
NUL_MESSAGE = "This text contains a character that can't be stored (NUL)."
TEXT_FIELDS = ("headline", "company", "phone", "linkedin_url")


@cache
def timezones() -> tuple[str, ...]:
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` can't be kept as a one-line (or, with ``multiline``, a
    free) text value, or None when it can.

    Line breaks are refused rather than flattened where a person types the
    value, so what they see saved is what they typed; a name with a line
    break would otherwise end up in an email's Subject header.
    """
    if "\x00" in value:
        return NUL_MESSAGE
    if not multiline and _NOT_ONE_LINE.search(value):
        return ONE_LINE_MESSAGE
    return None


def one_line(value: object, field: str) -> str:
    """``value`` as trimmed one-line text; ValidationFailed on ``field`` if it isn't one line."""
    text = str(value or "").strip()
    problem = text_problem(text)
    if problem:
        raise ValidationFailed(problem, field=field)
    return text


def _clean_linkedin(url: str) -> str:
    url = url.strip()
    if not url:
        return ""
    if not url.startswith(("http://", "https://")):
        url = "https://" + url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host != "linkedin.com" and not host.endswith(".linkedin.com"):
        raise ValidationFailed("Enter a LinkedIn profile address (linkedin.com/in/…).", field="linkedin_url")
    return f"https://{host}{parts.path}".rstrip("/")


def update_profile(user: User, **values: object) -> None:
    """Apply profile and sharing values (unknown keys are ignored).

    Everything is checked before anything is changed: on ValidationFailed the
    user object is exactly as it was.
    """
    name = one_line(values.get("name"), "name")
    if not name:
        raise ValidationFailed("Tell people your name.", field="name")
    text = {field: one_line(values.get(field), field) for field in TEXT_FIELDS}
    looking_for = str(values.get("looking_for") or "").strip()
    if problem := text_problem(looking_for, multiline=True):
        raise ValidationFailed(problem, field="looking_for")
    tz = str(values.get("timezone") or "UTC")
    if tz not in timezones():
        raise ValidationFailed("Choose a time zone from the list.", field="timezone")
    phone = text["phone"]
    if phone and not (_PHONE.match(phone) and sum(c.isdigit() for c in phone) >= MIN_PHONE_DIGITS):
        raise ValidationFailed("Use digits, spaces and an optional leading +.", field="phone")
    linkedin_url = _clean_linkedin(text["linkedin_url"])
    user.name = name
    user.headline = text["headline"]
    user.company = text["company"]
    user.looking_for = looking_for
    user.linkedin_url = linkedin_url
    user.phone = phone
    user.timezone = tz
    for field in SHARING_FIELDS:
        if field in values:
            setattr(user, field, bool(values[field]))


def set_photo(user: User, data: bytes) -> None:
    """Store ``data`` as a square JPEG of PHOTO_SIZE px; refuse anything else."""
    if len(data) > MAX_PHOTO_BYTES:
        raise ValidationFailed("That photo is larger than 8 MB.", field="photo")
    try:
        # Only the formats we promise: Pillow would otherwise try every plugin it has.
        with Image.open(io.BytesIO(data), formats=PHOTO_FORMATS) as image:
            if image.width * image.height > MAX_PHOTO_PIXELS:
                raise ValidationFailed("That photo has too many pixels.", field="photo")
            image = ImageOps.exif_transpose(image).convert("RGB")
            square = ImageOps.fit(image, (PHOTO_SIZE, PHOTO_SIZE), Image.Resampling.LANCZOS)
    except Image.DecompressionBombError:
        raise ValidationFailed("That photo has too many pixels.", field="photo") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise ValidationFailed("Upload a JPEG, PNG or WebP image.", field="photo") from None
    out = io.BytesIO()
    square.save(out, "JPEG", quality=85, optimize=True)
    user.photo = out.getvalue()
    user.photo_version = abs(user.photo_version) + 1


def remove_photo(user: User) -> None:
    """Forget the photo. The version goes negative rather than back to 0, so a
    later photo gets a URL never used before (photo URLs are cached as immutable)."""
    user.photo = None
    user.photo_version = -abs(user.photo_version)


def can_view(viewer: User, subject: User) -> bool:
    """Whether ``viewer`` may see ``subject``'s photo and card.

    Yourself, site admins, people ``subject`` is connected with, and people
    at an event ``subject`` attends (to recognise who they are about to
    connect with) — never across a block. What others see of the card follows
    ``subject``'s sharing choices (services.people).
    """
    from webapp.services import connections, people

    if viewer.id == subject.id or viewer.role == Role.ADMIN:
        return True
    if connections.is_blocked(viewer.id, subject.id):
        return False
    return connections.contact_for(viewer.id, subject.id) is not None or people.share_an_event(viewer, subject)
