"""The DomainError family and the one place that renders errors for the API and for pages."""

from typing import Any


class DomainError(Exception):
    """A refusal the user can act on; each subclass carries its HTTP status and message."""

    status_code = 400
    message = "The request cannot be carried out."

    def __init__(self, message: str | None = None, **data: Any) -> None:
        super().__init__(message or self.message)
        self.detail = message or self.message
        self.data = data
        # Response headers that belong to the refusal (e.g. Retry-After), for API and pages.
        self.headers: dict[str, str] = {}


class NotFound(DomainError):
    status_code = 404
    message = "Not found."


class Forbidden(DomainError):
    status_code = 403
    message = "You may not do that."


class NotAuthenticated(DomainError):
    status_code = 401
    message = "Authentication required."


class Conflict(DomainError):
    status_code = 409
    message = "The request conflicts with the current state."


class InvalidInput(DomainError):
    """Input that is well-formed JSON but breaks a rule the schema cannot express."""

    status_code = 422
    message = "The request is not valid."


class TooManyRequests(DomainError):
    """Refused for now; `retry_after` seconds later the same request may be served."""

    status_code = 429
    message = "Too many requests; try again later."

    def __init__(self, message: str | None = None, *, retry_after: int, **data: Any) -> None:
        super().__init__(message, retry_after=retry_after, **data)
        self.headers["Retry-After"] = str(retry_after)
