"""Business rules as plain functions.

Services take model objects and plain values, flush but never commit (the
caller owns the transaction), and raise :class:`DomainError` subclasses whose
message can be shown to the user as is.
"""


class DomainError(Exception):
    """A rule was broken; ``str(error)`` is a user-facing sentence."""

    code = "domain_error"
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field


class NotFound(DomainError):
    code = "not_found"


class PermissionDenied(DomainError):
    code = "forbidden"


class ValidationFailed(DomainError):
    code = "validation_error"
