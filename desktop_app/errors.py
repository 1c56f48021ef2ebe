"""The application's error family: a user message, a detail and a stable code.

Callers branch on ``code``, never on the message. The CLI prints ``message`` on one line;
the GUI shows it in a banner or status line with ``detail`` behind a "details" toggle.
"""

from __future__ import annotations


class AppError(Exception):
    """An expected failure with a message fit for the user."""

    code = "APP_ERROR"

    def __init__(self, message: str, *, detail: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class RegistryError(AppError):
    """The registry folder or database cannot be used as asked."""

    code = "REGISTRY_ERROR"


class NotFoundError(AppError):
    """A named experiment, run, model or artifact does not exist."""

    code = "NOT_FOUND"


class InvalidValueError(AppError):
    """A value given by the user or a script is not acceptable."""

    code = "INVALID_VALUE"


class QuerySyntaxError(AppError):
    """A run-filter query could not be parsed; ``column`` is 1-based."""

    code = "QUERY_SYNTAX"

    def __init__(self, message: str, *, column: int, query: str = "") -> None:
        super().__init__(f"column {column}: {message}", detail=query)
        self.column = column
        self.reason = message


class ConflictError(AppError):
    """The change contradicts what is already stored."""

    code = "CONFLICT"
